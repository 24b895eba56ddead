import { fixedWindow } from '@bulwark/resilience';
import {
  type PostgresRateLimitStore,
  postgresRateLimitSql,
  postgresRateLimitStore,
} from '@bulwark/resilience/postgres';
import { rateLimitStoreConformance } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const sourceExecArgv = [
  '--conditions=@bulwark/source',
  '--import',
  'tsx',
  '--import',
  new URL('../../../../tools/assets/register.mjs', import.meta.url).href,
];

await describeWithServers('postgresRateLimitStore', ['postgres'], ({ postgres: url }) => {
  const table = uniqueName('rate_limits');
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const store = postgresRateLimitStore(pool, { table, sweepIntervalMs: 0 });
  process.env.BULWARK_RATE_LIMIT_TABLE = table;
  beforeAll(async () => {
    await store.migrate();
    await store.migrate(); // idempotent
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS ${store.table}`);
    await pool.end();
  });

  rateLimitStoreConformance('postgresRateLimitStore', {
    keyPrefix: uniqueName('rl'),
    createStore: () => store,
    keyExists: async (_, key) =>
      (await pool.query(`SELECT 1 FROM ${store.table} WHERE key = $1`, [key])).rowCount === 1,
    sweep: async (subject) => {
      await (subject as PostgresRateLimitStore).sweep();
    },
    crossProcess: {
      storeModule: new URL('./fixtures/postgres-rate-limit-store.fixture.ts', import.meta.url).href,
      execArgv: sourceExecArgv,
    },
  });

  it('exports its migration SQL, quoting the table name', () => {
    const sql = postgresRateLimitSql({ table: 'ops.limits', unlogged: false }).migrate;
    expect(sql).toContain('CREATE  TABLE IF NOT EXISTS "ops"."limits"');
    expect(postgresRateLimitSql().migrate).toContain('CREATE UNLOGGED TABLE IF NOT EXISTS "bulwark_rate_limits"');
  });

  it('runs migrate() concurrently without errors', async () => {
    const other = postgresRateLimitStore(pool, { table: uniqueName('rate_limits_concurrent'), sweepIntervalMs: 0 });
    await Promise.all([other.migrate(), other.migrate(), other.migrate()]);
    expect((await other.consume('k', fixedWindow({ limit: 1, windowMs: 1000 }), 1)).allowed).toBe(true);
    await pool.query(`DROP TABLE ${other.table}`);
  });

  it('takes table as schema.name with double-quoted parts, and refuses other names with INVALID_OPTIONS', async () => {
    const schema = `Rate ${uniqueName('limits')}`;
    await pool.query(`CREATE SCHEMA "${schema}"`);
    try {
      const quoted = postgresRateLimitStore(pool, { table: `"${schema}"."Limits ""v1"""`, sweepIntervalMs: 0 });
      await quoted.migrate();
      expect((await quoted.consume('k', fixedWindow({ limit: 1, windowMs: 1000 }), 1)).allowed).toBe(true);
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1 AND tablename = $2',
        [schema, 'Limits "v1"'],
      );
      expect(rows[0].n).toBe(1);
    } finally {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
    for (const table of ['a.b.c', 'x"; DROP TABLE users; --', '']) {
      expect(() => postgresRateLimitStore(pool, { table })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      );
    }
  });
});
