import { asyncReply } from '@bulwark/messaging';
import { redisAsyncReplyStore } from '@bulwark/messaging/redis';
import { asyncReplyStoreConformance } from '@bulwark/messaging/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

await describeWithServers('redisAsyncReplyStore', ['redis'], ({ redis: url }) => {
  let redis: Redis;
  const keyPrefix = `${uniqueName('async-reply')}:`;
  beforeAll(() => {
    redis = new Redis(url);
  });
  afterAll(async () => {
    await deleteByPrefix(redis, keyPrefix);
    await redis.quit();
  });

  asyncReplyStoreConformance('redis', {
    createStore: () => redisAsyncReplyStore(redis, { keyPrefix: `${keyPrefix}${uniqueName('s')}:` }),
    sweepsExpired: false,
  });

  it('lets Redis expire records on its own (PEXPIRE set to the remaining lifetime)', async () => {
    const prefix = `${keyPrefix}ttl:`;
    const store = redisAsyncReplyStore(redis, { keyPrefix: prefix });
    await store.create({ id: 'a', kind: 'k', createdAt: 1_000, expiresAt: 61_000 });
    const pttl = await redis.pttl(`${prefix}a`);
    expect(pttl).toBeGreaterThan(55_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await store.start('a', { now: 2_000, runId: 'r', leaseUntil: 3_000 });
    await store.finish('a', {
      now: 2_500,
      runId: 'r',
      status: 'succeeded',
      result: '1',
      resultClaimed: false,
      expiresAt: 3_500,
    });
    expect(await redis.pttl(`${prefix}a`)).toBeLessThanOrEqual(1_000);
  });

  it("honours the ioredis client's own keyPrefix in its scripts as in its plain commands", async () => {
    const clientPrefix = `${keyPrefix}client:`;
    const prefixed = new Redis(url, { keyPrefix: clientPrefix });
    try {
      const store = redisAsyncReplyStore(prefixed, { keyPrefix: 'store:' });
      await store.create({ id: 'a', kind: 'k', createdAt: 1_000, expiresAt: Date.now() + 60_000 });
      expect(await store.start('a', { now: 2_000, runId: 'r', leaseUntil: 3_000 })).toMatchObject({ runId: 'r' });
      expect(await store.get('a', 2_000)).toMatchObject({ status: 'running', runId: 'r' });
      expect(await redis.exists(`${clientPrefix}store:a`)).toBe(1);
    } finally {
      await prefixed.quit();
    }
  });

  it('runs asyncReply end to end on Redis', async () => {
    const store = redisAsyncReplyStore(redis, { keyPrefix: `${keyPrefix}e2e:` });
    const replies = asyncReply({ store }).handle<{ a: number; b: number }, number>('add', ({ a, b }) => a + b);
    const { id } = await replies.accept('add', { a: 2, b: 3 });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await replies.status(id))?.status !== 'succeeded') {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await replies.status(id)).toMatchObject({ status: 'succeeded', result: 5 });
    await replies.close();
  });
});
