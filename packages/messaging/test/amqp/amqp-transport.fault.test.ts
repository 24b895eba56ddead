// The shared RabbitMQ must not be restarted: the broker closes this test's own connections in
// the middle of a run instead (what a broker restart does to a client). The transport must
// reconnect, the consumer go on, and every message be handled: deliveries unacked when the
// connection dropped are redelivered by the broker.
import { setTimeout as sleep } from 'node:timers/promises';
import { consume, createEnvelope } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import amqp from 'amqplib';
import { expect, it } from 'vitest';
import { closeBrokerConnectionsByPid, findBrokerConnections } from './amqp-test-support.js';

await describeWithServers('amqpTransport under dropped connections', ['amqp'], ({ amqp: url }) => {
  it('reconnects and handles every message when the broker drops its connections mid-run', async () => {
    const connectionName = uniqueName('bulwark-amqp-fault');
    let dropped = false;
    const exchange = uniqueName('bulwark-fault');
    const transport = amqpTransport(
      () => amqp.connect(url, { clientProperties: { connection_name: connectionName }, noDelay: true }),
      {
        exchange,
        queuePrefix: `${connectionName}:`,
        queueArguments: { 'x-expires': 120_000 },
        reconnectInitialMs: 50,
        onError: (error) => {
          if (error.code === 'CONNECTION_LOST') dropped = true;
        },
      },
    );
    const total = 1_500;
    const sent = Array.from({ length: total }, (_, index) =>
      createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index, pad: 'x'.repeat(200) } }),
    );
    const handled = new Map<string, number>();
    let redelivered = 0;
    let held = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      concurrency: 16,
      retry: false,
      handler: async (message, { deliveryCount }) => {
        const { index } = message.payload as { index: number };
        if (index >= 300 && index < 310 && !dropped) {
          // Held in flight until the connection drops: their acks can only fail, the broker must redeliver them.
          held += 1;
          while (!dropped) await sleep(5);
        }
        await sleep(2);
        if (deliveryCount > 1) redelivered += 1;
        handled.set(message.id, (handled.get(message.id) ?? 0) + 1);
      },
    });

    // Found before the run so the drop itself is one quick rabbitmqctl call in the middle of it.
    const connections = await findBrokerConnections(connectionName);
    let batchesAfterDrop = 0;
    const publishing = (async () => {
      for (let start = 0; start < total; start += 50) {
        if (dropped) batchesAfterDrop += 1;
        const batch = sent.slice(start, start + 50);
        for (;;) {
          try {
            await transport.publish('orders', batch);
            break;
          } catch {
            await sleep(50);
          }
        }
        await sleep(100);
      }
    })();

    while (held < 10) await sleep(5);
    await closeBrokerConnectionsByPid(connections);
    await publishing;

    const deadline = Date.now() + 30_000;
    while (handled.size < total && Date.now() < deadline) await sleep(20);
    expect(connections.length).toBeGreaterThan(0);
    expect(batchesAfterDrop).toBeGreaterThan(0);
    expect(sent.filter((message) => !handled.has(message.id))).toHaveLength(0);
    // Handlers in flight when the connection dropped could not ack: the broker sent those again.
    expect(redelivered).toBeGreaterThanOrEqual(10);

    await consumer.close({ deadlineMs: 1_000 });
    await transport.close();
    const admin = await amqp.connect(url);
    const channel = await admin.createChannel();
    await channel.deleteQueue(`${connectionName}:orders:billing`);
    await channel.deleteExchange(exchange);
    await admin.close();
  }, 60_000);
});
