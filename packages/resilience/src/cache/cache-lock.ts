/**
 * A short lock per key across processes, so that only one process runs the factory of a cold key
 * (`redisCacheLock(redis)` in `@bulwark/resilience/redis`). A lock is a lease: it expires after
 * `ttlMs` even if its holder dies, and the others then run the factory themselves.
 */
export interface CacheLock {
  /** Takes the lock of `key` for `ttlMs`; resolves `true` when this caller now holds it. */
  acquire(key: string, ttlMs: number, options?: { readonly signal?: AbortSignal }): Promise<boolean>;
  /** Gives the lock back if this process still holds it. */
  release(key: string): Promise<void>;
}
