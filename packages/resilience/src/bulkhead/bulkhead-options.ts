import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';

/** Options of {@link bulkhead}. */
export interface BulkheadOptions {
  /** Calls running at once. */
  readonly maxConcurrent: number;
  /** Calls waiting for a slot; more are rejected at once. @defaultValue `0` */
  readonly maxQueue?: number;
  /** A queued call waiting longer than this is rejected with reason `queue-timeout`. @defaultValue no limit */
  readonly queueTimeoutMs?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
  /** Names the bulkhead in metrics (`bulwark.bulkhead.name`). @defaultValue `'bulkhead'` */
  readonly name?: string;
}

/** Defaults of {@link BulkheadOptions}. */
export const bulkheadDefaults = { maxQueue: 0, clock: systemClock, name: 'bulkhead' } as const;

/** Checks {@link bulkhead} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateBulkheadOptions(options: BulkheadOptions): void {
  const validator = new OptionsValidator('bulkhead');
  validator.number('maxConcurrent', options?.maxConcurrent, { min: 1, integer: true, optional: false });
  validator.number('maxQueue', options?.maxQueue, { integer: true });
  validator.number('queueTimeoutMs', options?.queueTimeoutMs);
  validator.throwIfInvalid();
}
