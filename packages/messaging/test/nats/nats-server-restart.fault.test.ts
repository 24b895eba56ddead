// A real server restart: a private nats-server with JetStream on a free port and a store directory
// of its own (the shared one must stay up for the other suites) is SIGKILLed in the middle of a run
// and started again on the same port and store. The transport must recover by itself, the process
// stay up, no acknowledged message be lost, and the inbox keep the handler's effect to once per id.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { consume, createEnvelope, memoryIdempotencyStore } from '@bulwark/messaging';
import { natsTransport } from '@bulwark/messaging/nats';
import { freePort, isCI, isReachable } from '@bulwark/test-support';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';

const natsServer = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((path) =>
  existsSync(path),
);
if (!natsServer) {
  const reason = 'nats-server is not installed (apt-get install nats-server)';
  if (isCI()) throw new Error(`[nats server restart] cannot run under CI: ${reason}`);
  console.warn(`\n!!!!! SKIPPED SUITE "natsTransport across a server restart": ${reason} !!!!!\n`);
}

/** A private nats-server with JetStream, on its own port and store directory, killed and started at will. */
async function privateNatsServer() {
  const store = mkdtempSync(join(tmpdir(), 'bulwark-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  return {
    url,
    async start() {
      child = spawn(natsServer as string, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
        stdio: 'ignore',
      });
      const deadline = Date.now() + 30_000;
      while (!(await isReachable(url, 500))) {
        if (Date.now() > deadline) throw new Error(`private nats-server on ${port} did not start`);
        await sleep(100);
      }
    },
    /** SIGKILL (no clean shutdown); resolves once the process is gone. */
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async remove() {
      await this.kill();
      rmSync(store, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!natsServer)('natsTransport across a server restart', () => {
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
