import { OptionsValidator } from '../policy/options.js';
import type { Executable, ExecuteOptions, ExecutionContext, Policy } from '../policy/policy.js';
import { RateLimitedError, RateLimitStoreError } from './rate-limit-errors.js';
import type { RateLimiter } from './rate-limiter.js';

/** Options of {@link rateLimit}. */
export interface RateLimitPolicyOptions {
  /** The key every call through this policy is counted under, or a function giving it per call. */
  readonly key: string | (() => string);
  /**
   * Units each call takes.
   * @defaultValue 1
   */
  readonly cost?: number;
  /**
   * What happens when the store fails or times out: `false` rejects the call with the
   * `RateLimitStoreError`; `true` runs it anyway (the limiter still emits
   * `rate-limit-store-failed`, so the outage is visible).
   * @defaultValue false
   */
  readonly failOpen?: boolean;
}

/** A lazily created signal: nothing is allocated unless `fn` reads `context.signal`. */
class LazyContext implements ExecutionContext {
  private controller: AbortController | undefined;
  readonly attempt = 1;
  constructor(private readonly outer: AbortSignal | undefined) {}
  get signal(): AbortSignal {
    if (this.outer) return this.outer;
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
}

/**
 * A rate limit as a policy for `pipeline(...)`: each execution first consumes from `limiter`, and
 * is refused with {@link RateLimitedError} (carrying `retryAfterMs`) when over the limit. Place it
 * inside a `retry` to wait out the limit, outside to shed load.
 *
 * @example
 * ```ts
 * const limiter = rateLimiter({ algorithm: gcra({ rate: 50 }) });
 * const search = pipeline(retry({ maxAttempts: 3 }), rateLimit(limiter, { key: 'search-api' }));
 * await search.execute(({ signal }) => fetch(url, { signal }));
 * ```
 */
export function rateLimit(limiter: RateLimiter, options: RateLimitPolicyOptions): Policy {
  const validator = new OptionsValidator('rateLimit');
  if (!limiter || typeof limiter.consume !== 'function') validator.report('limiter must be made by rateLimiter()');
  if (typeof options?.key !== 'function' && (typeof options?.key !== 'string' || options.key.length === 0))
    validator.report('key must be a non-empty string or a function returning one');
  const cost = options?.cost ?? 1;
  if (!Number.isInteger(cost) || cost < 1 || (limiter?.algorithm && cost > limiter.algorithm.limit))
    validator.report(`cost must be an integer from 1 to the limiter's limit, got ${String(cost)}`);
  validator.throwIfInvalid();
  const { key, failOpen = false } = options;
  const consumeOptions = { cost };
  return {
    async execute<T>(fn: Executable<T>, executeOptions?: ExecuteOptions): Promise<T> {
      const signal = executeOptions?.signal;
      const callKey = typeof key === 'function' ? key() : key;
      try {
        const decision = await limiter.consume(callKey, signal ? { cost, signal } : consumeOptions);
        if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs, callKey);
      } catch (error) {
        if (!(failOpen && error instanceof RateLimitStoreError)) throw error;
      }
      return fn(new LazyContext(signal));
    },
  };
}
