import { TimeoutError } from '@bulwark/resilience';
import { withClient, withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';

// The bounds withClient and withTransaction put on their own waits (issue #15).
await describeWithServers('withClient / withTransaction bounds', ['postgres'], ({ postgres: url }) => {
  const applicationName = uniqueName('bulwark_with_client_bounds');
  const pool = new pg.Pool({ connectionString: url, max: 1, application_name: applicationName });
  pool.on('error', () => {});
  afterAll(async () => {
    await pool.end();
  });

  it('regression: a statement of the work that timed out is not followed by a ROLLBACK queued behind it; the client is destroyed', async () => {
    const startedAt = performance.now();
    const error = await withTransaction(pool, async (client) => {
      // query_timeout fails the call while the server still sleeps; a ROLLBACK sent now would
      // wait for the whole sleep (the inbox handler took two of its bounds that way).
      await client.query({ text: 'SELECT pg_sleep(5)', query_timeout: 300 } as pg.QueryConfig);
    }).catch((caught: unknown) => caught);
    const elapsed = performance.now() - startedAt;
    expect((error as Error).message).toBe('Query read timeout');
    expect(elapsed).toBeLessThan(4_000);
    // The busy connection was destroyed, not handed to the next caller.
    expect(pool.totalCount).toBe(0);
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
  });

  it('gives up the wait for a connection after connectTimeoutMs with TimeoutError, and the late connection goes back to the pool', async () => {
    let release: () => void = () => {};
    const holding = withClient(pool, () => new Promise<void>((resolve) => (release = resolve)));
    const error = await withClient(pool, async () => 'never', { connectTimeoutMs: 200 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    release();
    await holding;
    expect(await withClient(pool, async (client) => (await client.query('SELECT 2 AS two')).rows[0].two)).toBe(2);
    expect(pool.waitingCount).toBe(0);
  });
});
