import { setTimeout as sleep } from 'node:timers/promises';
import { postgresIdempotencySql, postgresIdempotencyStore } from '@bulwark/messaging/postgres';
import { idempotencyStoreConformance } from '@bulwark/messaging/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

await describeWithServers('postgresIdempotencyStore', ['postgres'], ({ postgres: url }) => {
  idempotencyStoreConformance('postgres', {
    createHarness: async () => {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      const table = uniqueName('idem');
      const store = postgresIdempotencyStore(pool, { table });
      await store.migrate();
      return {
        store,
        now: () => Date.now(),
        elapse: (ms) => sleep(ms),
        async close() {
          await pool.query(`DROP TABLE IF EXISTS "${table}"`);
          await pool.end();
        },
      };
    },
    renew: true,
    timeUnitMs: 100,
  });

  let pool: pg.Pool;
  const table = uniqueName('idem');
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  it('migrates idempotently, even from several instances at once', async () => {
    const stores = Array.from({ length: 4 }, () => postgresIdempotencyStore(pool, { table }));
    await Promise.all(stores.map((store) => store.migrate()));
    await stores[0]?.migrate();
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = $1', [table]);
    expect(rows[0].n).toBe(2);
  });

  it('sweeps rows whose lease or ttl ran out, and only those', async () => {
    const store = postgresIdempotencyStore(pool, { table });
    await store.migrate();
    await store.begin('short', 'fp', 50);
    const done = await store.begin('done', 'fp', 50);
    if (done.kind === 'acquired') await store.complete('done', done.leaseToken, 'x', 60_000);
    await store.begin('long', 'fp', 60_000);
    await sleep(120);
    expect(await store.sweep()).toBe(1);
    const { rows } = await pool.query(`SELECT key FROM "${table}" ORDER BY key`);
    expect(rows.map((row) => row.key)).toEqual(['done', 'long']);
  });

  it('renders the SQL for a schema-qualified table and refuses unsafe names', () => {
    expect(postgresIdempotencySql({ table: 'app.idem' }).migrate).toContain('CREATE TABLE IF NOT EXISTS "app"."idem"');
    expect(() => postgresIdempotencySql({ table: 'x"; DROP TABLE users; --' })).toThrow(/table must be an identifier/);
  });
});
