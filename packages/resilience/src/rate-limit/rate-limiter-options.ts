import type { Clock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import type { RateLimitAlgorithm } from './algorithms.js';
import type { RateLimitStore } from './rate-limit-store.js';

/** Options of {@link rateLimiter}. */
export interface RateLimiterOptions {
  /** What is limited and how: {@link tokenBucket}, {@link gcra}, {@link fixedWindow} or {@link slidingWindow}. */
  readonly algorithm: RateLimitAlgorithm;
  /**
   * Where the state lives. A store passed in is not closed by `limiter.close()`.
   * @defaultValue a new {@link memoryRateLimitStore} (closed with the limiter)
   */
  readonly store?: RateLimitStore;
  /**
   * Prefix of every key (`<name>:<key>`), so several limiters can share one store without mixing
   * their counts. Limiters with the same name and store share limits, e.g. across processes.
   * @defaultValue no prefix
   */
  readonly name?: string;
  /**
   * Most milliseconds a store call may take before it rejects with a `RateLimitStoreError`
   * (`RATE_LIMIT_STORE_TIMEOUT`), so a dead Redis never hangs a request. Not applied to in-process
   * stores.
   * @defaultValue 1_000
   */
  readonly timeoutMs?: number;
  /** Source of time for the store timeout. @defaultValue systemClock */
  readonly clock?: Clock;
}

/** The defaults of {@link RateLimiterOptions}. */
export const rateLimiterDefaults = { timeoutMs: 1_000 } as const;

export function validateRateLimiterOptions(options: RateLimiterOptions): void {
  const validator = new OptionsValidator('rateLimiter');
  const algorithm = options?.algorithm as RateLimitAlgorithm | undefined;
  if (
    !algorithm ||
    (algorithm.kind !== 'gcra' && algorithm.kind !== 'fixed-window' && algorithm.kind !== 'sliding-window')
  )
    validator.report('algorithm must be made by tokenBucket(), gcra(), fixedWindow() or slidingWindow()');
  const timeoutMs = options?.timeoutMs ?? rateLimiterDefaults.timeoutMs;
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0 && Number.isFinite(timeoutMs)))
    validator.report(`timeoutMs must be a positive number, got ${String(timeoutMs)}`);
  if (options?.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0))
    validator.report('name must be a non-empty string when given');
  if (options?.store !== undefined && typeof options.store?.consume !== 'function')
    validator.report('store must implement RateLimitStore');
  validator.throwIfInvalid();
}
