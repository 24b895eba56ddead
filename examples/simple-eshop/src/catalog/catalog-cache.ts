// The catalog read through a cache: fresh for 30 s, answered stale for up to 10 minutes when the
// database fails or is slow (stale-if-error, soft timeout), invalidated by `stock-changed` events
// that the order saga adds to the outbox in the same transaction as the stock move. With Redis the
// processes share one cache (a memory tier each, kept in step by pub/sub); without it each process
// keeps its own, and one of them per consumer group sees each event, so the others catch up at ttl.
import { consume, createEnvelope, invalidateCacheHandler, type Transport } from '@bulwark/messaging';
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import { type Cache, cache, memoryCacheStore } from '@bulwark/resilience';
import type { Redis } from 'ioredis';
import type pg from 'pg';

export const catalogTopic = 'catalog';
/** The tag of every catalog entry: a stock move changes the list and the product pages alike. */
export const productsTag = 'products';

export async function openCatalogCache(
  redis: Redis | undefined,
  namespace: string,
  ttlMs: number,
): Promise<{ cache: Cache; close(): Promise<void> }> {
  const policy = { ttlMs, graceMs: 10 * 60_000, softTimeoutMs: 300, hardTimeoutMs: 5_000, name: 'catalog' };
  if (!redis) {
    const catalog = cache({ store: memoryCacheStore({ maxEntries: 1_000 }), ...policy });
    return { cache: catalog, close: () => catalog.close() };
  }
  const { redisCacheBus, redisCacheLock, redisCacheStore } = await import('@bulwark/resilience/redis');
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {}); // reconnects by itself; the cache reports a down store as degraded
  const catalog = cache({
    store: redisCacheStore(redis, { prefix: `${namespace}:cache:` }),
    memory: memoryCacheStore({ maxEntries: 1_000 }),
    memoryTtlMs: 5_000,
    bus: redisCacheBus({ publisher: redis, subscriber, channel: `${namespace}:cache:invalidations` }),
    lock: redisCacheLock(redis, { prefix: `${namespace}:cache-lock:` }),
    ...policy,
  });
  return {
    cache: catalog,
    async close() {
      await catalog.close();
      subscriber.disconnect();
    },
  };
}

/** Adds the event that invalidates the catalog, in the caller's transaction. */
export function announceStockChange(outbox: PostgresOutbox) {
  return (client: pg.PoolClient, productIds: readonly string[]) =>
    outbox.add(
      client,
      createEnvelope({ topic: catalogTopic, type: 'stock-changed', payload: { productIds: [...productIds] } }),
    );
}

/** Invalidates the catalog on every `stock-changed` event. */
export function invalidateCatalogOnEvents(transport: Transport, catalog: Cache) {
  return consume(transport, {
    topic: catalogTopic,
    group: 'catalog-cache',
    retry: [200, 1_000, 5_000],
    handler: invalidateCacheHandler(catalog, (message) =>
      message.type === 'stock-changed' ? { tags: [productsTag] } : undefined,
    ),
  });
}
