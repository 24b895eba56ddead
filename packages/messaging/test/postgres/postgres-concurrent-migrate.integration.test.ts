// Regression: processes that start together all run migrate() on a fresh database. A bare
// CREATE TABLE IF NOT EXISTS races in PostgreSQL (duplicate pg_type rows), so each adapter's
// migration must serialize itself. Found when the shop's roles started at once.

import {
  postgresAsyncReplyStore,
  postgresDeadLetterStore,
  postgresIdempotencyStore,
  postgresOutbox,
  postgresTransport,
} from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

await describeWithServers('postgres adapters: concurrent migrate on a fresh schema', ['postgres'], ({ postgres }) => {
  const schema = uniqueName('migrate_race');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 16, options: `-c search_path=${schema}` });
    await pool.query(`CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  });

  const adapters: Record<string, () => { migrate(): Promise<void> }> = {
    postgresDeadLetterStore: () => postgresDeadLetterStore(pool, { table: 'dead_letters' }),
    postgresAsyncReplyStore: () => postgresAsyncReplyStore(pool, { table: 'operations' }),
    postgresIdempotencyStore: () => postgresIdempotencyStore(pool, { table: 'idempotency' }),
    postgresOutbox: () => postgresOutbox(pool, { table: `${schema}.outbox` }),
    postgresTransport: () => postgresTransport(pool, { table: 'messages', listen: false }),
  };

  for (const [name, make] of Object.entries(adapters)) {
    it(`${name}: 8 migrations at once all succeed`, async () => {
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => make().migrate()));
      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    });
  }
});
