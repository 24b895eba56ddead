/**
 * One cached value as a {@link CacheStore} keeps it. Times are epoch milliseconds from the cache's
 * clock, so every tier and every process judges freshness by the same numbers.
 */
export interface CacheEntry {
  /** The serialized value (the cache serializes once, every tier keeps the same text). */
  readonly value: string;
  /** When the value was produced. */
  readonly createdAt: number;
  /** Until when the value is fresh; after it the cache refreshes before (or while) answering it. */
  readonly freshUntil: number;
  /** Until when the value may still be answered stale (grace period); the store may drop it after. */
  readonly staleUntil: number;
  /** Tags the entry can be invalidated by. */
  readonly tags: readonly string[];
}

/** Options every store method takes. */
export interface CacheStoreCallOptions {
  readonly signal?: AbortSignal;
}

/**
 * Where a {@link cache} keeps entries: `memoryCacheStore()` (core entry) or `redisCacheStore(redis)`
 * (`@bulwark/resilience/redis`). Every store passes `cacheStoreConformance` from
 * `@bulwark/resilience/testing`.
 *
 * Guarantees: `get` answers what the last `set` of that key wrote, or `undefined` once the entry's
 * `staleUntil` has passed, after `delete` of the key or after `deleteTags` of one of its tags; keys
 * are exact strings (any characters); methods reject with `signal.reason` when the signal aborts;
 * after `close()` methods reject.
 */
export interface CacheStore {
  /** True for stores in this process that never wait on I/O; the cache bounds the others' calls. */
  readonly local?: boolean;
  get(key: string, options?: CacheStoreCallOptions): Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry, options?: CacheStoreCallOptions): Promise<void>;
  /** Removes entries by key; missing keys are ignored. */
  delete(keys: readonly string[], options?: CacheStoreCallOptions): Promise<void>;
  /** Removes every entry carrying one of `tags`. */
  deleteTags(tags: readonly string[], options?: CacheStoreCallOptions): Promise<void>;
  /** Releases what the store made (timers, scripts); never closes a client the user passed in. */
  close(): Promise<void>;
}
