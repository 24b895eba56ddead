import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';

/** Options of {@link hedge}. */
export interface HedgeOptions {
  /** How long an attempt may run before the next hedged attempt starts. */
  readonly hedgeDelayMs: number;
  /** Hedged attempts beyond the first. @defaultValue `1` */
  readonly maxHedgedAttempts?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** Defaults of {@link HedgeOptions}. */
export const hedgeDefaults = { maxHedgedAttempts: 1, clock: systemClock } as const;

/** Checks {@link hedge} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateHedgeOptions(options: HedgeOptions): void {
  const validator = new OptionsValidator('hedge');
  validator.number('hedgeDelayMs', options?.hedgeDelayMs, { optional: false });
  validator.number('maxHedgedAttempts', options?.maxHedgedAttempts, { min: 1, integer: true });
  validator.throwIfInvalid();
}
