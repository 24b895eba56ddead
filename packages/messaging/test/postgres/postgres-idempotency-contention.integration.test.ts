import { postgresIdempotencyStore } from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runContention } from '../idempotency/fixtures/run-contention.js';

await describeWithServers('postgresIdempotency exactly once', ['postgres'], ({ postgres: url }) => {
  let pool: pg.Pool;
  const table = uniqueName('idem_contention');
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 2 });
    await postgresIdempotencyStore(pool, { table }).migrate();
    await pool.query(`CREATE TABLE "${table}_effects" (id bigserial PRIMARY KEY, pid int NOT NULL)`);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_effects"`);
    await pool.end();
  });

  it('runs the work exactly once for 200 concurrent calls with one key from 4 processes', async () => {
    const results = await runContention('postgres', url, table, 4, 50);
    expect(results).toHaveLength(200);
    const { rows } = await pool.query(`SELECT count(*)::int AS effects FROM "${table}_effects"`);
    expect(rows[0].effects).toBe(1);
    const values = results.filter((result) => result.kind === 'value');
    const conflicts = results.filter((result) => result.kind === 'conflict');
    expect(results.filter((result) => result.kind === 'error')).toEqual([]);
    expect(values.length + conflicts.length).toBe(200);
    // Half the callers come around the 200 ms of work (they meet it running), half once it is
    // stored (they replay it): contention-child.ts.
    expect(values.length).toBeGreaterThan(100);
    expect(conflicts.length).toBeGreaterThan(0);
    expect(new Set(values.map((result) => JSON.stringify(result.value))).size).toBe(1);
  });
});
