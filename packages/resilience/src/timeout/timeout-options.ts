import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';

/**
 * `cooperative`: at the deadline the signal given to `fn` aborts with a {@link TimeoutError} and
 * the call settles when `fn` does (rejecting with the `TimeoutError` if `fn` rejects).
 * `aggressive`: the call also rejects at the deadline, even if `fn` ignores its signal.
 */
export type TimeoutStrategy = 'cooperative' | 'aggressive';

/** Options of {@link timeout}. */
export interface TimeoutOptions {
  /** The deadline of each call, in ms. */
  readonly ms: number;
  /** @defaultValue `'cooperative'` */
  readonly strategy?: TimeoutStrategy;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** Defaults of {@link TimeoutOptions}. */
export const timeoutDefaults = { strategy: 'cooperative', clock: systemClock } as const;

/** Checks {@link timeout} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateTimeoutOptions(options: TimeoutOptions): void {
  const validator = new OptionsValidator('timeout');
  validator.number('ms', options?.ms, { optional: false });
  validator.check(
    options?.strategy === undefined || options.strategy === 'cooperative' || options.strategy === 'aggressive',
    `strategy must be 'cooperative' or 'aggressive', got ${String(options?.strategy)}`,
  );
  validator.throwIfInvalid();
}
