import { ResilienceError } from '../errors/resilience-error.js';

/**
 * The `timeout` policy's deadline passed. It is the reason of the signal given to `fn`, and what
 * the call rejects with (its `cause` is `fn`'s own error when `fn` rejected after the deadline).
 */
export class TimeoutError extends ResilienceError {
  override name = 'TimeoutError';
  constructor(
    /** The deadline that passed, in ms. */
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super('TIMEOUT', `Operation timed out after ${timeoutMs} ms`, options);
  }
}
