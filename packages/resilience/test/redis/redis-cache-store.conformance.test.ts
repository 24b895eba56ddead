import { cache, memoryCacheStore } from '@bulwark/resilience';
import { redisCacheBus, redisCacheLock, redisCacheStore } from '@bulwark/resilience/redis';
import { cacheStoreConformance } from '@bulwark/resilience/testing';
import { describeWithServers, faultProxy, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';

await describeWithServers('redisCacheStore', ['redis'], ({ redis: url }) => {
  const clients: Redis[] = [];
  const client = (clientUrl = url) => {
    const redis = new Redis(clientUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => {}); // reconnects are what the fault case is about
    clients.push(redis);
    return redis;
  };
  const shared = client();
  afterAll(async () => {
    await Promise.all(clients.map((redis) => redis.quit().catch(() => redis.disconnect())));
  });

  cacheStoreConformance('redisCacheStore', {
    createStore: (clock) => redisCacheStore(shared, { prefix: `${uniqueName('cache')}:`, clock }),
  });

  /** A cache as one process would hold it: its own connections and memory tier, the shared store and bus. */
  const processCache = (prefix: string, channel: string, options: { lock?: boolean } = {}) => {
    const publisher = client();
    return cache({
      store: redisCacheStore(publisher, { prefix }),
      memory: memoryCacheStore(),
      bus: redisCacheBus({ publisher, subscriber: client(), channel }),
      ...(options.lock ? { lock: redisCacheLock(publisher, { prefix: `${prefix}lock:` }) } : {}),
      ttlMs: 60_000,
      graceMs: 60_000,
    });
  };

  it('one factory call for 1,000 concurrent callers of a cold key spread over four processes', async () => {
    const prefix = `${uniqueName('stampede')}:`;
    const caches = Array.from({ length: 4 }, () => processCache(prefix, `${prefix}bus`, { lock: true }));
    let calls = 0;
    const factory = async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { products: 42 };
    };
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, index) => caches[index % 4]?.getOrSet('catalog', factory)),
    );
    expect(answers.every((answer) => answer?.products === 42)).toBe(true);
    expect(calls).toBe(1);
    await Promise.all(caches.map((each) => each.close()));
  });

  it('after invalidate returns, no process answers the old value from its memory tier once the bus delivered', async () => {
    const prefix = `${uniqueName('bus')}:`;
    const [writer, reader] = [processCache(prefix, `${prefix}bus`), processCache(prefix, `${prefix}bus`)];
    await new Promise((resolve) => setTimeout(resolve, 100)); // both subscribed
    const latencies: number[] = [];
    for (let round = 0; round < 20; round += 1) {
      await writer.set('price', round, { tags: ['prices'] });
      expect(await reader.get('price')).toBe(round); // now in the reader's memory tier
      const heard = new Promise<number>((resolve) => {
        const subscription = reader.on('invalidated', () => {
          subscription.dispose();
          resolve(performance.now());
        });
      });
      const started = performance.now();
      await writer.invalidate(round % 2 ? { tags: ['prices'] } : { keys: ['price'] });
      latencies.push((await heard) - started);
      expect(await reader.get('price')).toBeUndefined();
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `[cache bus] invalidate -> other process's memory tier cleared: p50 ${latencies[10]?.toFixed(2)} ms, max ${latencies[19]?.toFixed(2)} ms (Redis pub/sub, loopback)`,
    );
    await Promise.all([writer.close(), reader.close()]);
  });

  it('Redis down: the memory tier and grace keep answering, with events; back: in step again', async () => {
    const proxy = await faultProxy({ host: new URL(url).hostname, port: Number(new URL(url).port) || 6379 });
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('unhandledRejection', record);
    try {
      const prefix = `${uniqueName('down')}:`;
      const redis = client(proxy.url(url));
      const catalog = cache({
        store: redisCacheStore(redis, { prefix }),
        memory: memoryCacheStore(),
        memoryTtlMs: 1,
        ttlMs: 1,
        graceMs: 60_000,
        storeTimeoutMs: 500,
      });
      const storeErrors: string[] = [];
      catalog.on('storeError', (event) => storeErrors.push(event.operation));
      expect(await catalog.getOrSet('products', async () => 'v1')).toBe('v1');
      proxy.down();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const started = performance.now();
      expect(await catalog.getOrSet('products', async () => Promise.reject(new Error('db down too')))).toBe('v1');
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(storeErrors).toContain('get');
      expect(catalog.snapshot().health.status).toBe('degraded');
      await proxy.heal();
      // Back: the next answer comes from the source through Redis, with no new client.
      await expect
        .poll(async () => catalog.getOrSet('products', async () => 'v2'), { timeout: 10_000, interval: 200 })
        .toBe('v2');
      expect(catalog.snapshot().health.status).toBe('up');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
      await proxy.close();
    }
  });
});
