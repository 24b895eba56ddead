// The Redis adapters on a real Redis Cluster (three masters started by the test), as the stores
// promise for `Cluster` clients: the rate limit store unbatched, each decision on the master
// that owns its key; the circuit state store's two keys in one slot by their hash tag.

import { gcra, rateLimiter } from '@bulwark/resilience';
import { redisCacheStore, redisCircuitStateStore, redisRateLimitStore } from '@bulwark/resilience/redis';
import {
  cacheStoreConformance,
  circuitStateStoreConformance,
  rateLimitStoreConformance,
} from '@bulwark/resilience/testing';
import { describeWithRedisCluster, uniqueName } from '@bulwark/test-support';
import { Cluster } from 'ioredis';
import { afterAll, expect, it } from 'vitest';

await describeWithRedisCluster('Redis adapters on a Redis Cluster', (nodes) => {
  const cluster = new Cluster(nodes);
  afterAll(() => cluster.quit());

  rateLimitStoreConformance('redisRateLimitStore (Cluster)', {
    keyPrefix: uniqueName('rl-cluster'),
    createStore: () => redisRateLimitStore(cluster),
    keyExists: async (_, key) => (await cluster.exists(`bulwark:rate-limit:${key}`)) === 1,
  });

  circuitStateStoreConformance('redisCircuitStateStore (Cluster)', {
    namePrefix: uniqueName('circuit-cluster'),
    createStore: () => redisCircuitStateStore(cluster, { prefix: `${uniqueName('circuit')}:` }),
  });

  cacheStoreConformance('redisCacheStore (Cluster)', {
    createStore: (clock) => redisCacheStore(cluster, { prefix: `${uniqueName('cache-cluster')}:`, clock }),
  });

  it('spreads limited keys over the masters and keeps every limit exact', async () => {
    const prefix = `${uniqueName('rl-spread')}:`;
    const limiter = rateLimiter({
      name: 'api',
      algorithm: gcra({ rate: 10, periodMs: 60_000 }),
      store: redisRateLimitStore(cluster, { prefix }),
    });
    const users = Array.from({ length: 30 }, (_, index) => `user-${index}`);
    const decisions = await Promise.all(
      users.flatMap((user) => Array.from({ length: 15 }, () => limiter.consume(user))),
    );
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(30 * 10);
    const keysPerMaster = await Promise.all(
      cluster.nodes('master').map(async (master) => (await master.keys(`${prefix}*`)).length),
    );
    expect(keysPerMaster.reduce((sum, count) => sum + count, 0)).toBe(30);
    expect(keysPerMaster.filter((count) => count > 0).length).toBeGreaterThan(1);
  });
});
