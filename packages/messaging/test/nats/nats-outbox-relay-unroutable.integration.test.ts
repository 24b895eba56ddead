// An outbox relay that starts before its first consumer must not remove a row whose message NATS
// would drop: an interest stream acknowledges a message no consumer covers and deletes it, so the
// transport refuses the publish and the relay keeps the row until a group exists.
import { createEnvelope, UnroutableMessageError } from '@bulwark/messaging';
import { natsTransport } from '@bulwark/messaging/nats';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { constant } from '@bulwark/resilience';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const waitUntil = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

await describeWithServers('outbox relay → NATS JetStream, no group yet', ['postgres', 'nats'], (urls) => {
  let pool: pg.Pool;
  let connection: NatsConnection;
  const table = uniqueName('outbox');
  const stream = uniqueName('BULWARK_OUTBOX').replace(/[^A-Za-z0-9_-]/g, '_');
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: urls.postgres, max: 6 });
    connection = await connect({ servers: urls.nats.replace(/^nats:\/\//, ''), maxReconnectAttempts: -1 });
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
    await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    await pool.end();
    await (await jetstreamManager(connection)).streams.delete(stream).catch(() => {});
    await connection.close();
  });

  it('keeps the row while no group receives the topic, and publishes it once a group exists', async () => {
    const transport = natsTransport(connection, { stream, subjectPrefix: stream.toLowerCase(), pullExpiresMs: 1_000 });
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
