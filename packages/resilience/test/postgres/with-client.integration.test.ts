import { withClient, withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';

await describeWithServers('withClient / withTransaction', ['postgres'], ({ postgres: url }) => {
  const applicationName = uniqueName('bulwark_with_client');
  const table = uniqueName('with_client');
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: applicationName });
  pool.on('error', () => {}); // idle clients whose backend we terminate
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  const uncaught: unknown[] = [];
  const record = (error: unknown) => uncaught.push(error);

  beforeEach(() => {
    uncaught.length = 0;
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });
  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.end();
    await admin.end();
  });

  const terminateBackends = () =>
    admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);

  it('regression: a held client whose backend is terminated between two queries does not crash the process', async () => {
    const outcome = await withClient(pool, async (client) => {
      await client.query('SELECT 1');
      await terminateBackends();
      // The server's notice arrives while no query runs: without a listener this is an unhandled 'error'.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return client.query('SELECT 1').then(
        () => 'answered',
        (error: Error) => error.message,
      );
    });
    expect(outcome).not.toBe('answered');
    expect(uncaught).toEqual([]);
    // The dead client was dropped, not handed out again.
    expect((await pool.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    expect(uncaught).toEqual([]);
  });

  it('commits, and rolls back when the work throws', async () => {
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int primary key)`);
    await withTransaction(pool, (client) => client.query(`INSERT INTO ${table} VALUES (1)`));
    await expect(
      withTransaction(pool, async (client) => {
        await client.query(`INSERT INTO ${table} VALUES (2)`);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect((await pool.query(`SELECT id FROM ${table} ORDER BY id`)).rows).toEqual([{ id: 1 }]);
  });

  it('a transaction whose backend dies mid-work rejects with the work error, rolls back and leaves the pool working', async () => {
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int primary key)`);
    await expect(
      withTransaction(pool, async (client) => {
        await client.query(`INSERT INTO ${table} VALUES (3)`);
        await terminateBackends();
        await client.query(`INSERT INTO ${table} VALUES (4)`);
      }),
    ).rejects.toThrow();
    expect(uncaught).toEqual([]);
    expect((await pool.query(`SELECT id FROM ${table} WHERE id IN (3, 4)`)).rowCount).toBe(0);
    expect(pool.totalCount).toBeLessThanOrEqual(2);
  });

  it('rejects with the signal reason before taking a client', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(withClient(pool, async () => 1, { signal: controller.signal })).rejects.toThrow('stopped');
  });
});
