export type { Cache, CacheFactory, CacheFactoryContext, CacheInvalidationTarget, CacheSnapshot } from './cache.js';
export { cache } from './cache.js';
export type { CacheBus, CacheInvalidation } from './cache-bus.js';
export { memoryCacheBus } from './cache-bus.js';
export { CacheStoreClosedError, CacheStoreError, InvalidCacheKeyError } from './cache-errors.js';
export type {
  CacheEvents,
  CacheHitEvent,
  CacheInvalidatedEvent,
  CacheMissEvent,
  CacheRefreshErrorEvent,
  CacheStaleEvent,
  CacheStoreErrorEvent,
  StaleReason,
} from './cache-events.js';
export type { CacheLock } from './cache-lock.js';
export type { CacheEntryOptions, CacheOptions, CacheSerializer } from './cache-options.js';
export { cacheDefaults, jsonSerializer } from './cache-options.js';
export type { CacheEntry, CacheStore, CacheStoreCallOptions } from './cache-store.js';
export type { MemoryCacheStore, MemoryCacheStoreOptions } from './memory-cache-store.js';
export { memoryCacheStore, memoryCacheStoreDefaults } from './memory-cache-store.js';
