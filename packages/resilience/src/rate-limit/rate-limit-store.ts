import type { RateLimitAlgorithm } from './algorithms.js';

/** What a limiter decided about one call. */
export interface RateLimitDecision {
  /** Whether the call was admitted (and its cost taken). */
  readonly allowed: boolean;
  /** Units still available right after this decision (0 when refused). */
  readonly remaining: number;
  /** 0 when admitted; else milliseconds until a call of the same cost would be admitted. */
  readonly retryAfterMs: number;
  /** Milliseconds until the key is back to its full limit (0 when it already is). */
  readonly resetMs: number;
}

/** Options of every {@link RateLimitStore} call. */
export interface RateLimitStoreCallOptions {
  /** Rejects the call with `signal.reason` when it aborts (the decision may still be applied). */
  readonly signal?: AbortSignal;
}

/**
 * The port every rate-limit backend implements: memory ({@link memoryRateLimitStore}), Redis
 * (`redisRateLimitStore` from `@bulwark/resilience/redis`), PostgreSQL (`postgresRateLimitStore`
 * from `@bulwark/resilience/postgres`). The conformance suite `rateLimitStoreConformance` in
 * `@bulwark/resilience/testing` checks an implementation against these guarantees on its real
 * backend.
 *
 * Guarantees:
 * - **Atomic decisions.** {@link RateLimitStore.consume} reads the key's state, decides and writes
 *   the new state as one atomic step (one Redis script, one SQL statement), so concurrent callers
 *   in any number of processes are admitted exactly up to the limit, never more.
 * - **One clock.** Time comes from one source per store (the Redis server's `TIME`, PostgreSQL's
 *   `clock_timestamp()`, the memory store's injected `Clock`), never from the callers, so instances
 *   with skewed clocks agree.
 * - **Same math.** Every store computes the algorithms of {@link RateLimitAlgorithm} with the same
 *   integer-microsecond arithmetic, so a limit means the same thing on every backend.
 * - **Idle keys expire.** Once a key is back to its full limit its state is indistinguishable from
 *   no state, and the store drops it (TTL in Redis, `sweep()` in PostgreSQL, a sweep in memory).
 * - **Failures are errors.** A backend failure rejects the call; the limiter wraps it into a
 *   `RateLimitStoreError` and callers choose to fail open or closed.
 */
export interface RateLimitStore {
  /**
   * Takes `cost` units from `key` if it has them. `cost` is an integer from 1 to the algorithm's
   * `limit` (the limiter validates it).
   */
  consume(
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    options?: RateLimitStoreCallOptions,
  ): Promise<RateLimitDecision>;
  /**
   * Reports the state of `key` without changing it: `remaining` is what is available now, and
   * `allowed` / `retryAfterMs` are what a consume of cost 1 would get.
   */
  peek(key: string, algorithm: RateLimitAlgorithm, options?: RateLimitStoreCallOptions): Promise<RateLimitDecision>;
  /** Forgets `key`: its next consume sees the full limit. */
  reset(key: string, options?: RateLimitStoreCallOptions): Promise<void>;
  /** Stops timers; never closes a client the caller passed in. */
  close(): Promise<void>;
  /**
   * True when the store answers without I/O (the memory store): the limiter then skips its store
   * timeout, which only guards against backends that do not answer.
   */
  readonly inProcess?: boolean;
}
