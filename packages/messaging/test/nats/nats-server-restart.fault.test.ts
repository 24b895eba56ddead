// A real server restart: a private nats-server with JetStream on a free port and a store directory
// of its own (the shared one must stay up for the other suites) is SIGKILLed in the middle of a run
// and started again on the same port and store. The transport must recover by itself, the process
// stay up, no acknowledged message be lost, and the inbox keep the handler's effect to once per id.
import { setTimeout as sleep } from 'node:timers/promises';
import { consume, createEnvelope, memoryIdempotencyStore } from '@bulwark/messaging';
import { natsTransport } from '@bulwark/messaging/nats';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { privateNatsServer, skipWithoutNatsServer } from './private-nats-server.js';

const suite = 'natsTransport across a server restart';

describe.skipIf(skipWithoutNatsServer(suite))(suite, () => {
  let server: Awaited<ReturnType<typeof privateNatsServer>> | undefined;
  afterAll(() => server?.remove());

  it('recovers by itself after nats-server is SIGKILLed and restarted, and handles every acknowledged message', async () => {
    server = await privateNatsServer();
    await server.start();
    const connection = await connect({
      servers: server.url.replace('nats://', ''),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    const errors: string[] = [];
    const transport = natsTransport(connection, {
      retryInitialMs: 100,
      retryMaxMs: 1_000,
      pullExpiresMs: 1_000,
      operationTimeoutMs: 3_000,
      onError: (error) => errors.push(error.code),
    });
    const total = 1_000;
    const sent = Array.from({ length: total }, (_, index) =>
      createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index } }),
    );
    /** How often the handler's effect ran per id (the inbox skips a redelivered, handled id). */
    const effects = new Map<string, number>();
    /** Every delivery that reached the handler, duplicates included. */
    let deliveries = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      concurrency: 8,
      retry: false,
      dedupe: { store: memoryIdempotencyStore(), windowMs: 'forever' },
      handler: async (message) => {
        deliveries += 1;
        await sleep(1);
        effects.set(message.id, (effects.get(message.id) ?? 0) + 1);
      },
    });

    const acknowledged = new Set<string>();
    const publishing = (async () => {
      for (let start = 0; start < total; start += 50) {
        const batch = sent.slice(start, start + 50);
        // A batch counts as sent once the stream acknowledged it; until then it is sent again
        // (the stream's Nats-Msg-Id deduplication stores it once).
        for (;;) {
          try {
            await transport.publish('orders', batch);
            for (const message of batch) acknowledged.add(message.id);
            break;
          } catch {
            await sleep(100);
          }
        }
        await sleep(20);
      }
    })();

    while (effects.size < 300) await sleep(10);
    await server.kill();
    const handledWhileDown = effects.size;
    await sleep(500);
    expect(transport.health().status).toBe('degraded');
    await server.start();
    await publishing;

    const deadline = Date.now() + 60_000;
    while (effects.size < total && Date.now() < deadline) await sleep(50);
    expect(handledWhileDown).toBeLessThan(total);
    expect(acknowledged.size).toBe(total);
    // Nothing acknowledged is lost…
    expect(sent.filter((message) => !effects.has(message.id))).toHaveLength(0);
    // …and nothing is handled twice: redeliveries (at-least-once) are skipped by the inbox.
    expect([...effects.values()].filter((count) => count > 1)).toHaveLength(0);
    expect(deliveries).toBeGreaterThanOrEqual(total);
    const deadlineUp = Date.now() + 10_000;
    while (transport.health().status !== 'up' && Date.now() < deadlineUp) await sleep(50);
    expect(transport.health().status).toBe('up');
    console.info(
      `[nats restart] ${total} messages, ${deliveries} deliveries (${deliveries - total} redelivered), background errors: ${[...new Set(errors)].join(', ') || 'none'}`,
    );

    await consumer.close({ deadlineMs: 1_000 });
    await transport.close();
    await connection.close();
  }, 180_000);
});
