// Regression (issue 16): an outbox relay that starts before its first consumer must not remove a
// row whose message the broker dropped. RabbitMQ drops what no queue is bound for, and a NATS
// interest stream acknowledges and deletes what no consumer covers: both transports refuse such a
// publish, and the relay keeps the row until a group exists. One scenario, run for each broker.

import { createEnvelope, type Transport, UnroutableMessageError } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { natsTransport } from '@bulwark/messaging/nats';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { constant } from '@bulwark/resilience';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, type ServerKind, uniqueName } from '@bulwark/test-support';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import amqp from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

/** A transport on a fresh exchange or stream, and how to remove what it declared. */
interface BrokerUnderTest {
  transport: Transport;
  remove(): Promise<void>;
}

const brokers: { name: string; server: ServerKind; open(url: string): Promise<BrokerUnderTest> }[] = [
  {
    name: 'RabbitMQ',
    server: 'amqp',
    async open(url) {
      const exchange = uniqueName('bulwark-test');
      const transport = amqpTransport(() => amqp.connect(url, { noDelay: true }), {
        exchange,
        queuePrefix: `${uniqueName('bulwark-amqp')}:`,
        queueArguments: { 'x-expires': 120_000 },
      });
      return {
        transport,
        async remove() {
          const admin = await amqp.connect(url);
          const channel = await admin.createChannel();
          for (const name of [exchange, `${exchange}.delayed`, `${exchange}.unrouted`]) {
            await channel.deleteExchange(name).catch(() => {});
          }
          await admin.close();
        },
      };
    },
  },
  {
    name: 'NATS JetStream',
    server: 'nats',
    async open(url) {
      const connection = await connectNats({ servers: url.replace(/^nats:\/\//, ''), maxReconnectAttempts: -1 });
      const stream = uniqueName('BULWARK_OUTBOX').replace(/[^A-Za-z0-9_-]/g, '_');
      const transport = natsTransport(connection, {
        stream,
        subjectPrefix: stream.toLowerCase(),
        pullExpiresMs: 1_000,
      });
      return {
        transport,
        async remove() {
          await (await jetstreamManager(connection)).streams.delete(stream).catch(() => {});
          await connection.close();
        },
      };
    },
  },
];

const waitUntil = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

for (const broker of brokers) {
  await describeWithServers(`outbox relay → ${broker.name}, no group yet`, ['postgres', broker.server], (urls) => {
    let pool: pg.Pool;
    const table = uniqueName('outbox');
    beforeAll(() => {
      pool = new pg.Pool({ connectionString: urls.postgres, max: 6 });
    });
    afterAll(async () => {
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
      await pool.end();
    });

    it('keeps the row while no group receives the topic, and publishes it once a group exists', async () => {
      const { transport, remove } = await broker.open(urls[broker.server]);
      const outbox = postgresOutbox(pool, { table });
      await outbox.migrate();
      const topic = uniqueName('orders');
      const message = createEnvelope({ topic, type: 'order.placed', payload: { orderId: 'o-1' } });
      await withTransaction(pool, (client) => outbox.add(client, message));
      const rows = async () => (await pool.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n as number;

      const relay = outbox.relay({ transport, backoff: constant({ ms: 200 }), pollIntervalMs: 100 });
      const failures: unknown[] = [];
      relay.on('outbox-publish-failed', ({ error }) => failures.push(error));
      const dispatched: number[] = [];
      relay.on('outbox-dispatched', ({ count }) => dispatched.push(count));
      try {
        await waitUntil(() => failures.length >= 2, 'two refused publishes');
        expect(failures[0]).toBeInstanceOf(UnroutableMessageError);
        expect((failures[0] as UnroutableMessageError).code).toBe('MESSAGE_UNROUTABLE');
        expect(dispatched).toEqual([]);
        expect(await rows()).toBe(1);

        // The first consumer starts: the relay's next attempt is accepted and the row goes.
        const received: string[] = [];
        await transport.subscribe(topic, 'billing', async (delivery) => {
          received.push(delivery.message.id);
        });
        await waitUntil(() => received.length === 1, 'the outbox message');
        expect(received).toEqual([message.id]);
        await waitUntil(async () => (await rows()) === 0, 'the row to be removed');
      } finally {
        await relay.close();
        await outbox.close();
        await transport.close({ deadlineMs: 0 });
        await remove();
      }
    });
  });
}
