import { fixedWindow, RateLimitStoreError, rateLimiter } from '@bulwark/resilience';
import { postgresRateLimitStore } from '@bulwark/resilience/postgres';
import { manualClock } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

await describeWithServers('postgresRateLimitStore faults', ['postgres'], ({ postgres: url }) => {
  const applicationName = uniqueName('bulwark_rl_fault');
  const table = uniqueName('rate_limits_fault');
  const pool = new pg.Pool({ connectionString: url, max: 4, application_name: applicationName });
  pool.on('error', () => {}); // idle clients whose backend we terminate emit an error
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const clock = manualClock(0);
  const store = postgresRateLimitStore(pool, { table, sweepIntervalMs: 100, clock });
  beforeAll(async () => {
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
    await admin.query(`DROP TABLE IF EXISTS ${store.table}`);
    await pool.end();
    await admin.end();
  });

  it('backends killed mid-decision: calls fail with RateLimitStoreError, then the limiter works again', async () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 50, windowMs: 60_000 }), store, timeoutMs: 5_000 });
    expect((await limiter.consume('user')).allowed).toBe(true);
    // Hold the row lock so the next decisions are in flight on the server when their backends die.
    const locker = await admin.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT * FROM ${store.table} WHERE key = 'user' FOR UPDATE`);
    const calls = Array.from({ length: 4 }, () => limiter.consume('user').catch((error: unknown) => error));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const startedAt = performance.now();
    await locker.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    const outcomes = await Promise.all(calls);
    expect(performance.now() - startedAt).toBeLessThan(2_000);
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(RateLimitStoreError);
      expect((outcome as RateLimitStoreError).code).toBe('RATE_LIMIT_STORE_FAILED');
    }
    await locker.query('ROLLBACK');
    locker.release();
    // Fresh connections from the same pool: decisions resume; the killed ones took nothing.
    expect(await limiter.consume('user')).toMatchObject({ allowed: true, remaining: 48 });
  });

  it('a decision stuck behind a lock settles at timeoutMs with RATE_LIMIT_STORE_TIMEOUT', async () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 50, windowMs: 60_000 }), store, timeoutMs: 300 });
    await limiter.consume('stuck');
    const locker = await admin.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT * FROM ${store.table} WHERE key = 'stuck' FOR UPDATE`);
    const startedAt = performance.now();
    const error = await limiter.consume('stuck').catch((caught: unknown) => caught);
    const elapsed = performance.now() - startedAt;
    await locker.query('ROLLBACK');
    locker.release();
    expect(error).toBeInstanceOf(RateLimitStoreError);
    expect((error as RateLimitStoreError).code).toBe('RATE_LIMIT_STORE_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('sweeps idle keys on its clock timer', async () => {
    await store.consume('short', fixedWindow({ limit: 1, windowMs: 50 }), 1);
    const count = async () =>
      Number((await admin.query(`SELECT count(*) FROM ${store.table} WHERE key = 'short'`)).rows[0].count);
    expect(await count()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 120)); // the window ends on the server's clock
    clock.advance(100); // the sweep timer fires
    let remaining = await count();
    for (let attempt = 0; remaining > 0 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      remaining = await count();
    }
    expect(remaining).toBe(0);
  });
});
