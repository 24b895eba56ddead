import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisIdempotencyStore } from '@bulwark/messaging/redis';
import { idempotencyStoreConformance } from '@bulwark/messaging/testing';
import { describeWithServers, freePort, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import beginScript from '../../src/redis/lua/idempotency-begin.lua';

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

await describeWithServers('redisIdempotencyStore', ['redis'], ({ redis: url }) => {
  for (const batch of [true, false]) {
    idempotencyStoreConformance(batch ? 'redis (batched)' : 'redis (one script call per operation)', {
      createHarness: async () => {
        const redis = new Redis(url, { lazyConnect: false });
        const keyPrefix = `${uniqueName('idem')}:`;
        return {
          store: redisIdempotencyStore(redis, { keyPrefix, batch }),
          now: () => Date.now(),
          elapse: (ms) => sleep(ms),
          async close() {
            await deleteByPrefix(redis, keyPrefix);
            await redis.quit();
          },
        };
      },
      renew: true,
      timeUnitMs: 100,
    });
  }

  let redis: Redis;
  const keyPrefix = `${uniqueName('idem')}:`;
  beforeAll(() => {
    redis = new Redis(url);
  });
  afterAll(async () => {
    await deleteByPrefix(redis, keyPrefix);
    await redis.quit();
  });

  it('keeps each record in one key under the key prefix, expiring with its lease', async () => {
    const store = redisIdempotencyStore(redis, { keyPrefix });
    const begun = await store.begin('order-1', 'fp', 5_000);
    expect(begun.kind).toBe('acquired');
    if (begun.kind === 'acquired') expect(await redis.get(`${keyPrefix}order-1`)).toBe(`p${begun.leaseToken}\nfp`);
    const pttl = await redis.pttl(`${keyPrefix}order-1`);
    expect(pttl).toBeGreaterThan(4_000);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });

  it('recovers when Redis has flushed its script cache (NOSCRIPT), on a private server', async () => {
    // SCRIPT FLUSH is server-wide, so it runs on a private redis-server, never the shared one.
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const privateRedis = new Redis({ port, host: '127.0.0.1', retryStrategy: (times) => (times > 50 ? null : 50) });
    privateRedis.on('error', () => {}); // refused connections until the private server listens
    try {
      const store = redisIdempotencyStore(privateRedis);
      expect((await store.begin('warm', 'fp', 5_000)).kind).toBe('acquired');
      await privateRedis.script('FLUSH');
      expect(await privateRedis.script('EXISTS', createHash('sha1').update(beginScript).digest('hex'))).toEqual([0]);
      const begun = await store.begin('after-flush', 'fp', 5_000);
      expect(begun.kind).toBe('acquired');
      if (begun.kind === 'acquired')
        expect(await store.complete('after-flush', begun.leaseToken, 'x', 5_000)).toBe(true);
    } finally {
      privateRedis.disconnect();
      server.kill();
    }
  });

  it('batches concurrent begins and completes across many keys, one acquirer per key', async () => {
    const store = redisIdempotencyStore(redis, { keyPrefix: `${keyPrefix}batch:`, maxBatchSize: 16 });
    const keys = Array.from({ length: 300 }, (_, index) => `k${index % 100}`);
    const begun = await Promise.all(keys.map((key) => store.begin(key, `fp-${key}`, 5_000)));
    const acquired = begun.flatMap((result, index) =>
      result.kind === 'acquired' ? [{ key: keys[index] as string, result }] : [],
    );
    expect(acquired.map((entry) => entry.key).sort()).toEqual(
      Array.from({ length: 100 }, (_, index) => `k${index}`).sort(),
    );
    for (const result of begun) {
      if (result.kind === 'existing') expect(result.record.status).toBe('in-progress');
    }
    const completed = await Promise.all(
      acquired.map(({ key, result }) =>
        result.kind === 'acquired' ? store.complete(key, result.leaseToken, `outcome-${key}`, 5_000) : false,
      ),
    );
    expect(completed.every(Boolean)).toBe(true);
    expect(await store.get('k42')).toMatchObject({
      status: 'completed',
      fingerprint: 'fp-k42',
      outcome: 'outcome-k42',
    });
    const again = await Promise.all([store.begin('k7', 'fp-k7', 5_000), store.begin('k7', 'other', 5_000)]);
    expect(again.map((result) => result.kind === 'existing' && result.record.status)).toEqual([
      'completed',
      'completed',
    ]);
  });

  it('gives each begin of a batch its own lease', async () => {
    // One call in flight and three begins in one tick: they leave together as one batch.
    const store = redisIdempotencyStore(redis, { keyPrefix: `${keyPrefix}leases:`, maxInFlight: 1 });
    const leases = [2_000, 5_000, 9_000];
    const begun = await Promise.all(leases.map((lease, index) => store.begin(`k${index}`, 'fp', lease)));
    expect(begun.map((result) => result.kind)).toEqual(['acquired', 'acquired', 'acquired']);
    for (const [index, lease] of leases.entries()) {
      const pttl = await redis.pttl(`${keyPrefix}leases:k${index}`);
      expect(pttl).toBeGreaterThan(lease - 1_000);
      expect(pttl).toBeLessThanOrEqual(lease);
    }
  });

  it('keeps fingerprints and outcomes with any characters apart', async () => {
    const store = redisIdempotencyStore(redis, { keyPrefix });
    const fingerprint = 'ünï:çødé\n12:';
    const begun = await store.begin('odd', fingerprint, 5_000);
    if (begun.kind !== 'acquired') throw new Error('expected to acquire');
    expect(await store.complete('odd', begun.leaseToken, '7:🚀\nout', 5_000)).toBe(true);
    expect(await store.get('odd')).toMatchObject({ status: 'completed', fingerprint, outcome: '7:🚀\nout' });
    expect(await store.begin('odd', 'x', 5_000)).toMatchObject({ kind: 'existing', record: { fingerprint } });
  });

  it('fails only the caller whose key holds something foreign, not the rest of its batch', async () => {
    const store = redisIdempotencyStore(redis, { keyPrefix });
    await redis.hset(`${keyPrefix}foreign`, 'field', 'value');
    const [foreign, good] = await Promise.allSettled([
      store.begin('foreign', 'fp', 5_000),
      store.begin('good', 'fp', 5_000),
    ]);
    expect(foreign.status).toBe('rejected');
    if (foreign.status === 'rejected') expect(String(foreign.reason)).toMatch(/WRONGTYPE/);
    expect(good).toMatchObject({ status: 'fulfilled', value: { kind: 'acquired' } });
  });

  it('lets two stores share one client', async () => {
    const first = redisIdempotencyStore(redis, { keyPrefix: `${keyPrefix}a:` });
    const second = redisIdempotencyStore(redis, { keyPrefix: `${keyPrefix}b:` });
    expect((await first.begin('k', 'fp', 5_000)).kind).toBe('acquired');
    expect((await second.begin('k', 'fp', 5_000)).kind).toBe('acquired');
  });
});
