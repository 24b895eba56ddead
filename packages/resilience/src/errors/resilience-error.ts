import { BulwarkError } from './bulwark-error.js';

/**
 * Base of the errors thrown by `@bulwark/resilience` (options errors excepted: they are the
 * shared {@link InvalidOptionsError}). A {@link BulwarkError}: `code` is stable across versions.
 */
export class ResilienceError extends BulwarkError {
  override name = 'ResilienceError';
}

/**
 * Base of the errors by which a policy refuses to run a call (open breaker, full bulkhead,
 * rate limit), so callers can treat every refusal alike.
 */
export class ExecutionRejectedError extends ResilienceError {
  override name = 'ExecutionRejectedError';
}

/**
 * Thrown before any write when a value cannot be stored unchanged by every backend (a NUL
 * character, a lone UTF-16 surrogate, a key longer than the backends allow), so a driver error
 * never surfaces later and memory and server stores refuse the same values.
 */
export class InvalidValueError extends ResilienceError {
  override name = 'InvalidValueError';
  constructor(
    /** Which value was refused, e.g. `key`. */
    readonly field: string,
    /** Why, e.g. `contains a NUL character (U+0000) at index 3`. */
    readonly problem: string,
  ) {
    super('INVALID_VALUE', `The ${field} ${problem}`);
  }
}
