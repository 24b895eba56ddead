import type { Backoff } from '../backoff/backoff.js';
import { exponential } from '../backoff/backoff.js';
import { IsolatedCircuitError } from '../circuit-breaker/circuit-breaker-errors.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import type { RetryBudget } from './retry-budget.js';

/** What `retryOn` predicates receive besides the error or result. */
export interface RetryDecisionContext {
  /** The attempt that just ended, 1 for the first. */
  readonly attempt: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Attempts in all, the first included. @defaultValue `3` */
  readonly maxAttempts?: number;
  /** No retry is scheduled if its delay would end more than this long after the first attempt started. */
  readonly maxElapsedMs?: number;
  /** The delay between attempts. @defaultValue `exponential({ initialMs: 100, maxMs: 10_000, jitter: 'full' })` */
  readonly backoff?: Backoff;
  /**
   * Which errors are retried. An error with a numeric `retryAfterMs` (an HTTP 429/503 `Retry-After`)
   * sets the next delay instead of the backoff.
   * @defaultValue every error except `IsolatedCircuitError`
   */
  readonly retryOn?: (error: unknown, context: RetryDecisionContext) => boolean;
  /** Which results are retried (e.g. a 503 response); when attempts run out the last result is returned. */
  readonly retryOnResult?: (result: unknown, context: RetryDecisionContext) => boolean;
  /** Limits retries to a fraction of recent calls (see {@link retryBudget}). */
  readonly budget?: RetryBudget;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
  /** Uniform numbers in [0, 1) for jitter. @defaultValue `Math.random` */
  readonly random?: () => number;
}

/** Defaults of {@link RetryOptions}. */
export const retryDefaults = {
  maxAttempts: 3,
  backoff: exponential({ initialMs: 100, maxMs: 10_000, jitter: 'full' }),
  retryOn: (error: unknown) => !(error instanceof IsolatedCircuitError),
  clock: systemClock,
  random: Math.random,
} as const;

/** Checks {@link retry} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateRetryOptions(options: RetryOptions): void {
  const validator = new OptionsValidator('retry');
  validator.number('maxAttempts', options.maxAttempts, { min: 1, integer: true });
  validator.number('maxElapsedMs', options.maxElapsedMs);
  validator.check(
    options.backoff === undefined || typeof options.backoff?.delayMs === 'function',
    'backoff must be a Backoff (constant(), linear(), exponential())',
  );
  validator.function('retryOn', options.retryOn);
  validator.function('retryOnResult', options.retryOnResult);
  validator.function('random', options.random);
  validator.check(
    options.budget === undefined || typeof options.budget?.tryAcquireRetry === 'function',
    'budget must be a RetryBudget (retryBudget())',
  );
  validator.throwIfInvalid();
}
