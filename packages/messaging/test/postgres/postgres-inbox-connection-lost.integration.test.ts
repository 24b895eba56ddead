import type { MessageContext } from '@bulwark/messaging';
import { createEnvelope } from '@bulwark/messaging';
import { PostgresStoreError, postgresInbox } from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

// The inbox handler when its connection dies under the work (issue #15).
await describeWithServers('postgresInbox when its connection is lost', ['postgres'], ({ postgres: url }) => {
  const applicationName = uniqueName('bulwark_inbox_lost');
  const table = uniqueName('inbox_lost');
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: applicationName });
  pool.on('error', () => {});
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  const inbox = postgresInbox(pool, { table, queryTimeoutMs: 2_000 });
  const context = (message: ReturnType<typeof createEnvelope>): MessageContext => ({
    signal: new AbortController().signal,
    attempt: 1,
    deliveryCount: 1,
    delivery: { message, deliveryCount: 1, ack: async () => {}, nack: async () => {} },
  });
  beforeAll(async () => {
    await inbox.migrate();
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
    await admin.end();
  });

  it('regression: a backend terminated under the work fails the handler with PostgresStoreError, records nothing, and the redelivery runs the work', async () => {
    const message = createEnvelope({ topic: 'orders', type: 'order.placed', payload: {} });
    let runs = 0;
    const handler = inbox.handler('billing', async (_message, { client }) => {
      runs += 1;
      if (runs === 1) {
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
          applicationName,
        ]);
        await client.query('SELECT pg_sleep(1)');
      }
    });
    const error = await (async () => handler(message, context(message)))().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PostgresStoreError);
    expect((error as PostgresStoreError).code).toBe('POSTGRES_FAILED');
    await handler(message, context(message));
    expect(runs).toBe(2);
    // A third delivery is a duplicate: the second one committed its record.
    await handler(message, context(message));
    expect(runs).toBe(2);
  });

  it("passes the work's own errors through as they are", async () => {
    const message = createEnvelope({ topic: 'orders', type: 'order.placed', payload: {} });
    const refused = new Error('card declined');
    const handler = inbox.handler('billing', async () => {
      throw refused;
    });
    await expect((async () => handler(message, context(message)))()).rejects.toBe(refused);
  });
});
