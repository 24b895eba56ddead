// A real broker restart: a private RabbitMQ node (the shared one must stay up for the other
// suites) is killed with SIGKILL in the middle of a run and started again on the same data. The
// transport must reconnect, the consumer go on, and no confirmed message be lost.
//
// The queue is a durable classic one: on the RabbitMQ of Debian 12 (3.10, Ra 2.2), a quorum queue
// created seconds before a SIGKILL loses the record of its data directory (rabbitmq/ra#443), comes
// back empty and never elects a leader — a broker bug no client can work around.
import { setTimeout as sleep } from 'node:timers/promises';
import { consume, createEnvelope } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import {
  createRabbitMqServer,
  isCI,
  privateRabbitMqUnavailable,
  type RabbitMqServerProcess,
} from '@bulwark/test-support';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';

const unavailable = privateRabbitMqUnavailable();
const canRun = unavailable === undefined;
if (!canRun) {
  if (isCI()) throw new Error(`[amqp broker restart] cannot run under CI: ${unavailable}`);
  console.warn(`\n!!!!! SKIPPED SUITE "amqpTransport across a broker restart": ${unavailable} !!!!!\n`);
}

describe.skipIf(!canRun)('amqpTransport across a broker restart', () => {
  let broker: RabbitMqServerProcess | undefined;
  afterAll(() => broker?.remove());

  it('reconnects after the broker is SIGKILLed and restarted, and handles every confirmed message', async () => {
    broker = await createRabbitMqServer();
    await broker.start();
    const url = broker.url;
    let lost = 0;
    const transport = amqpTransport(() => amqp.connect(url, { noDelay: true }), {
      queueType: 'classic',
      reconnectInitialMs: 100,
      onError: (error) => {
        if (error.code === 'CONNECTION_LOST') lost += 1;
      },
    });
    const total = 1_000;
    const sent = Array.from({ length: total }, (_, index) =>
      createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index } }),
    );
    const handled = new Map<string, number>();
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      concurrency: 8,
      retry: false,
      handler: async (message) => {
        await sleep(1);
        handled.set(message.id, (handled.get(message.id) ?? 0) + 1);
      },
    });

    let restarted = false;
    const publishing = (async () => {
      for (let start = 0; start < total; start += 50) {
        // A batch counts as sent once the broker confirmed it; until then it is sent again.
        for (;;) {
          try {
            await transport.publish('orders', sent.slice(start, start + 50));
            break;
          } catch {
            await sleep(100);
          }
        }
        await sleep(20);
      }
    })();

    while (handled.size < 300) await sleep(10);
    await broker.stop('SIGKILL');
    const handledWhileDown = handled.size;
    await broker.start();
    restarted = true;
    await publishing;

    const deadline = Date.now() + 60_000;
    while (handled.size < total && Date.now() < deadline) await sleep(50);
    expect(restarted).toBe(true);
    expect(handledWhileDown).toBeLessThan(total);
    expect(lost).toBeGreaterThan(0);
    expect(sent.filter((message) => !handled.has(message.id))).toHaveLength(0);

    await consumer.close({ deadlineMs: 1_000 });
    await transport.close();
  }, 180_000);
});
