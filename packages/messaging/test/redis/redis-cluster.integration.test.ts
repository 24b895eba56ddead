// The Redis idempotency store on a real Redis Cluster (three masters started by the test): a
// record is one key, so it works on any slot; calls are not batched (keys of one script call
// would have to share a slot).
import { setTimeout as sleep } from 'node:timers/promises';
import { idempotency } from '@bulwark/messaging';
import { redisIdempotencyStore } from '@bulwark/messaging/redis';
import { idempotencyStoreConformance } from '@bulwark/messaging/testing';
import { describeWithRedisCluster, uniqueName } from '@bulwark/test-support';
import { Cluster } from 'ioredis';
import { afterAll, expect, it } from 'vitest';

await describeWithRedisCluster('redisIdempotencyStore on a Redis Cluster', (nodes) => {
  idempotencyStoreConformance('redis (Cluster)', {
    createHarness: async () => {
      const cluster = new Cluster(nodes);
      return {
        store: redisIdempotencyStore(cluster, { keyPrefix: `${uniqueName('idem-cluster')}:` }),
        now: () => Date.now(),
        elapse: (ms) => sleep(ms),
        async close() {
          await cluster.quit();
        },
      };
    },
    renew: true,
    timeUnitMs: 100,
  });

  const cluster = new Cluster(nodes);
  afterAll(() => cluster.quit());

  it('runs work once per key for keys spread over every master', async () => {
    const keyPrefix = `${uniqueName('idem-spread')}:`;
    const payments = idempotency({ store: redisIdempotencyStore(cluster, { keyPrefix }), lockTtlMs: 5_000 });
    const runs = new Map<string, number>();
    const keys = Array.from({ length: 40 }, (_, index) => `order-${index}`);
    const outcomes = await Promise.allSettled(
      keys.flatMap((key) =>
        Array.from({ length: 5 }, () =>
          payments.run(key, 'fp', async () => {
            runs.set(key, (runs.get(key) ?? 0) + 1);
            await sleep(20);
            return key;
          }),
        ),
      ),
    );
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(runs.size).toBe(40);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect((outcome.reason as Error).name).toBe('IdempotencyConflictError');
    }
    const keysPerMaster = await Promise.all(
      cluster.nodes('master').map(async (master) => (await master.keys(`${keyPrefix}*`)).length),
    );
    expect(keysPerMaster.reduce((sum, count) => sum + count, 0)).toBe(40);
    expect(keysPerMaster.filter((count) => count > 0).length).toBeGreaterThan(1);
  });
});
