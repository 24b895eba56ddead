/**
 * What one cache tells the others when it invalidates: drop these keys and tags from your memory
 * tier. `origin` lets a process ignore its own messages.
 */
export interface CacheInvalidation {
  readonly origin: string;
  readonly keys: readonly string[];
  readonly tags: readonly string[];
}

/**
 * Carries {@link CacheInvalidation}s between the processes that share a store, so each clears its
 * memory tier: `redisCacheBus(publisher, subscriber)` in `@bulwark/resilience/redis`, a transport
 * topic through `@bulwark/messaging`, or {@link memoryCacheBus} within one process.
 *
 * Delivery is at most once and unordered across processes (Redis pub/sub); a process that misses a
 * message keeps an old value in its memory tier until `memoryTtlMs` passes, which bounds the harm.
 */
export interface CacheBus {
  publish(message: CacheInvalidation, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Calls `listener` with every message, its own included. Returns the unsubscribe function. */
  subscribe(listener: (message: CacheInvalidation) => void): () => void;
}

/** A {@link CacheBus} within one process: for tests, and for several caches over one store. */
export function memoryCacheBus(): CacheBus {
  const listeners = new Set<(message: CacheInvalidation) => void>();
  return {
    async publish(message, options) {
      options?.signal?.throwIfAborted();
      for (const listener of [...listeners]) listener(message);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
