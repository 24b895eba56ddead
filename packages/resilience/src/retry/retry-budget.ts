import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { SlidingCounters } from '../clock/sliding-counters.js';
import { OptionsValidator } from '../policy/options.js';

/** Options of {@link retryBudget}. */
export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of the calls in the window, e.g. `0.2` = one retry per five calls. */
  readonly ratio: number;
  /** Retries allowed in any window whatever the traffic, so a quiet service can still retry. @defaultValue `10` */
  readonly minRetries?: number;
  /** The sliding window, kept in 10 buckets of `windowMs / 10`. @defaultValue `10_000` */
  readonly windowMs?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** What a {@link RetryBudget} holds now. */
export interface RetryBudgetSnapshot {
  /** First attempts recorded in the window. */
  readonly calls: number;
  /** Retries spent in the window. */
  readonly retries: number;
  /** Retries that may still be spent: `max(minRetries, floor(ratio × calls)) − retries`. */
  readonly available: number;
}

/**
 * Limits retries to a fraction of recent calls, so a failing dependency sees at most
 * `(1 + ratio)` times its normal load instead of `maxAttempts` times. Share one budget between
 * several `retry` policies that call the same dependency.
 */
export interface RetryBudget {
  /** Records a first attempt. */
  recordCall(): void;
  /** Spends one retry if the budget allows it; returns whether it did. */
  tryAcquireRetry(): boolean;
  /** Calls, retries spent and retries available in the window now. */
  snapshot(): RetryBudgetSnapshot;
}

const BUCKETS = 10;
/** The counters of the window ({@link SlidingCounters}). */
const CALLS = 0;
const RETRIES = 1;

/** Defaults of {@link RetryBudgetOptions}. */
export const retryBudgetDefaults = { minRetries: 10, windowMs: 10_000, clock: systemClock } as const;

/**
 * Creates a {@link RetryBudget}: at any time, the retries spent in the last `windowMs` never exceed
 * `max(minRetries, floor(ratio × calls in that window))`.
 *
 * @example
 * ```ts
 * const budget = retryBudget({ ratio: 0.2 });
 * const withBudget = retry({ maxAttempts: 4, budget });
 * ```
 */
export function retryBudget(options: RetryBudgetOptions): RetryBudget {
  const validator = new OptionsValidator('retryBudget');
  validator.number('ratio', options?.ratio, { optional: false });
  validator.number('minRetries', options?.minRetries, { integer: true });
  validator.number('windowMs', options?.windowMs, { min: BUCKETS });
  validator.throwIfInvalid();
  const clock = options.clock ?? retryBudgetDefaults.clock;
  const minRetries = options.minRetries ?? retryBudgetDefaults.minRetries;
  const counters = new SlidingCounters(clock, options.windowMs ?? retryBudgetDefaults.windowMs, 2, BUCKETS);
  const snapshot = (): RetryBudgetSnapshot => {
    counters.advance();
    const totalCalls = counters.total(CALLS);
    const spent = counters.total(RETRIES);
    return {
      calls: totalCalls,
      retries: spent,
      available: Math.max(0, Math.max(minRetries, Math.floor(options.ratio * totalCalls)) - spent),
    };
  };
  return {
    recordCall() {
      counters.advance();
      counters.add(CALLS);
    },
    tryAcquireRetry() {
      if (snapshot().available <= 0) return false;
      counters.add(RETRIES);
      return true;
    },
    snapshot,
  };
}
