import { ExecutionRejectedError, ResilienceError } from '../errors/resilience-error.js';

/**
 * Thrown by the {@link rateLimit} policy (and by `rateLimiter().consumeOrThrow`) when a call is over
 * its limit. `retryAfterMs` says when the same call would be admitted, so a `retry` policy outside
 * the rate limit (or an HTTP client reading `Retry-After`) waits exactly that long.
 */
export class RateLimitedError extends ExecutionRejectedError {
  override name = 'RateLimitedError';
  constructor(
    /** Milliseconds until a call of the same cost would be admitted. */
    readonly retryAfterMs: number,
    /** The key that is over its limit. */
    readonly key: string,
  ) {
    super('RATE_LIMITED', `Rate limit exceeded for "${key}"; retry after ${retryAfterMs} ms`);
  }
}

/** The codes of {@link RateLimitStoreError}. */
export type RateLimitStoreErrorCode = 'RATE_LIMIT_STORE_TIMEOUT' | 'RATE_LIMIT_STORE_FAILED';

/**
 * Thrown when a {@link RateLimitStore} cannot decide: the backend failed (Redis down, PostgreSQL
 * error) or did not answer within the limiter's `timeoutMs`. The backend error is the `cause`.
 * Whether such a call is then admitted (fail open) or refused is the caller's explicit choice
 * (see `failOpen` of the {@link rateLimit} policy and the HTTP helpers).
 */
export class RateLimitStoreError extends ResilienceError {
  override name = 'RateLimitStoreError';
  /** `RATE_LIMIT_STORE_TIMEOUT` when the store did not answer in time, else `RATE_LIMIT_STORE_FAILED`. */
  declare readonly code: RateLimitStoreErrorCode;
  constructor(code: RateLimitStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
