import { ResilienceError } from '../errors/resilience-error.js';

/** A cache store was used after `close()`. */
export class CacheStoreClosedError extends ResilienceError {
  override name = 'CacheStoreClosedError';
  constructor(
    /** The store, e.g. `redisCacheStore`. */
    readonly store: string,
  ) {
    super('CACHE_STORE_CLOSED', `${store} is closed`);
  }
}

/**
 * A cache store call failed or did not answer within the cache's `storeTimeoutMs`. `getOrSet`
 * does not throw it: it answers from the memory tier or the factory and emits `storeError`.
 */
export class CacheStoreError extends ResilienceError {
  override name = 'CacheStoreError';
  constructor(
    /** What the cache asked the store to do. */
    readonly operation: 'get' | 'set' | 'delete' | 'deleteTags',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('CACHE_STORE_FAILED', message, options);
  }
}

/** A cache key that no store can keep exactly (not a string, or a lone UTF-16 surrogate in it). */
export class InvalidCacheKeyError extends ResilienceError {
  override name = 'InvalidCacheKeyError';
  constructor(
    /** The key refused. */
    readonly key: unknown,
    reason: string,
  ) {
    super('INVALID_CACHE_KEY', `Invalid cache key: ${reason}`);
  }
}
