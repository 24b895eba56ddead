// Regression (issue 16): an outbox relay that starts before its first consumer must not remove a
// row whose message the broker dropped. RabbitMQ drops what no queue is bound for; the transport
// publishes `mandatory` and refuses, and the relay keeps the row until a group exists.

import { createEnvelope, UnroutableMessageError } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { constant } from '@bulwark/resilience';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import amqp, { type ChannelModel } from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const waitUntil = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

await describeWithServers('outbox relay → RabbitMQ, no queue bound yet', ['postgres', 'amqp'], (urls) => {
  let pool: pg.Pool;
  let admin: ChannelModel;
  const table = uniqueName('outbox');
  const exchange = uniqueName('bulwark-test');
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: urls.postgres, max: 6 });
    admin = await amqp.connect(urls.amqp);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
    await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    await pool.end();
    const channel = await admin.createChannel();
    await channel.deleteExchange(exchange).catch(() => {});
    await admin.close();
  });

  it('keeps the row while the broker has no queue for the topic, and publishes it once a group exists', async () => {
    const queuePrefix = `${uniqueName('bulwark-amqp')}:`;
    const transport = amqpTransport(() => amqp.connect(urls.amqp, { noDelay: true }), {
      exchange,
      queuePrefix,
      queueArguments: { 'x-expires': 120_000 },
    });
    const outbox = postgresOutbox(pool, { table });
    await outbox.migrate();
    const topic = uniqueName('orders');
    const message = createEnvelope({ topic, type: 'order.placed', payload: { orderId: 'o-1' } });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await outbox.add(client, message);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
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
    }
  });
});
