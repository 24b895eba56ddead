import { fixedWindow, gcra, rateLimiter } from '@bulwark/resilience';
import { redisRateLimitStore } from '@bulwark/resilience/redis';
import { rateLimitStoreConformance } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';

/** The flags that let a child Node process load this repository's TypeScript sources. */
export const sourceExecArgv = [
  '--conditions=@bulwark/source',
  '--import',
  'tsx',
  '--import',
  new URL('../../../../tools/assets/register.mjs', import.meta.url).href,
];

await describeWithServers('redisRateLimitStore', ['redis'], ({ redis: url }) => {
  const redis = new Redis(url);
  const other = new Redis(url);
  afterAll(async () => {
    await redis.quit();
    await other.quit();
  });

  rateLimitStoreConformance('redisRateLimitStore', {
    keyPrefix: uniqueName('rl'),
    createStore: () => redisRateLimitStore(redis),
    keyExists: async (_, key) => (await redis.exists(`bulwark:rate-limit:${key}`)) === 1,
    crossProcess: {
      storeModule: new URL('./fixtures/redis-rate-limit-store.fixture.ts', import.meta.url).href,
      execArgv: sourceExecArgv,
    },
  });

  // Unbatched: one script call per decision (the path a Cluster client takes).
  rateLimitStoreConformance('redisRateLimitStore (batch: false)', {
    keyPrefix: uniqueName('rl-single'),
    createStore: () => redisRateLimitStore(redis, { batch: false }),
    keyExists: async (_, key) => (await redis.exists(`bulwark:rate-limit:${key}`)) === 1,
  });

  it('uses the server clock: a limiter in another "instance" agrees on the same key', async () => {
    const prefix = `${uniqueName('rl-shared')}:`;
    const algorithm = gcra({ rate: 5, periodMs: 60_000 });
    const first = rateLimiter({ name: 'api', algorithm, store: redisRateLimitStore(redis, { prefix }) });
    const second = rateLimiter({ name: 'api', algorithm, store: redisRateLimitStore(other, { prefix }) });
    const decisions = await Promise.all(
      Array.from({ length: 10 }, (_, index) => (index % 2 ? first : second).consume('user-1')),
    );
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(5);
    expect(await redis.pttl(`${prefix}api:user-1`)).toBeGreaterThan(0);
  });

  it('stores one key per limited key, with a TTL no longer than the time to full', async () => {
    const prefix = `${uniqueName('rl-ttl')}:`;
    const store = redisRateLimitStore(redis, { prefix });
    const decision = await store.consume('k', fixedWindow({ limit: 10, windowMs: 2_000 }), 1);
    const ttl = await redis.pttl(`${prefix}k`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(decision.resetMs);
  });
});
