import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runContention } from '../idempotency/fixtures/run-contention.js';

await describeWithServers('redisIdempotency exactly once', ['redis'], ({ redis: url }) => {
  let redis: Redis;
  const namespace = uniqueName('idem_contention');
  beforeAll(() => {
    redis = new Redis(url);
  });
  afterAll(async () => {
    await redis.del(`${namespace}:effects`, `${namespace}:order-42`);
    await redis.quit();
  });

  it('runs the work exactly once for 200 concurrent calls with one key from 4 processes', async () => {
    const results = await runContention('redis', url, namespace, 4, 50);
    expect(results).toHaveLength(200);
    expect(Number(await redis.get(`${namespace}:effects`))).toBe(1);
    const values = results.filter((result) => result.kind === 'value');
    const conflicts = results.filter((result) => result.kind === 'conflict');
    expect(results.filter((result) => result.kind === 'error')).toEqual([]);
    expect(values.length + conflicts.length).toBe(200);
    // Half the callers come around the 200 ms of work (they meet it running), half once it is
    // stored (they replay it): contention-child.ts.
    expect(values.length).toBeGreaterThan(100);
    expect(conflicts.length).toBeGreaterThan(0);
    // Everyone who got a value got the one outcome, produced by one process.
    expect(new Set(values.map((result) => JSON.stringify(result.value))).size).toBe(1);
  });
});
