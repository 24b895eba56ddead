/** Why a stale value was answered. */
export type StaleReason =
  /** Past `ttlMs`, within grace, with `staleWhileRevalidate`: a background refresh was started. */
  | 'revalidating'
  /** The factory failed (an open breaker included) and the entry was within grace. */
  | 'error'
  /** The factory did not finish within `softTimeoutMs`; it goes on and updates the entry when done. */
  | 'soft-timeout';

/** Emitted when a fresh value is answered from a tier. */
export interface CacheHitEvent {
  readonly key: string;
  /** `memory` for the memory tier in front of a shared store, `store` otherwise. */
  readonly tier: 'memory' | 'store';
}

/** Emitted when no usable value was found and the factory runs (once per flight, not per caller). */
export interface CacheMissEvent {
  readonly key: string;
}

/** Emitted when a stale value is answered. */
export interface CacheStaleEvent {
  readonly key: string;
  readonly reason: StaleReason;
  /** How old the answered value is, in ms. */
  readonly ageMs: number;
  /** The factory's error when `reason` is `error`. */
  readonly error?: unknown;
}

/** Emitted when a background refresh (stale-while-revalidate or after a soft timeout) failed. */
export interface CacheRefreshErrorEvent {
  readonly key: string;
  readonly error: unknown;
}

/** Emitted when the store failed or timed out; the cache went on without it. */
export interface CacheStoreErrorEvent {
  readonly operation: 'get' | 'set' | 'delete' | 'deleteTags';
  readonly error: unknown;
}

/** Emitted when keys or tags were invalidated, here or by another process through the bus. */
export interface CacheInvalidatedEvent {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  /** `local` for this cache's own `invalidate`, `bus` for a message from another process. */
  readonly source: 'local' | 'bus';
}

/** Events of a {@link cache}, by name. */
export interface CacheEvents {
  hit: CacheHitEvent;
  miss: CacheMissEvent;
  stale: CacheStaleEvent;
  refreshError: CacheRefreshErrorEvent;
  storeError: CacheStoreErrorEvent;
  invalidated: CacheInvalidatedEvent;
}
