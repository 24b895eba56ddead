import { ExecutionRejectedError } from '../errors/resilience-error.js';

/** The circuit is open (or half-open with every probe slot taken): the call was not attempted. */
export class BrokenCircuitError extends ExecutionRejectedError {
  override name = 'BrokenCircuitError';
  constructor(
    /** How long until the breaker admits a probe, in ms (0 when it is half-open already). */
    readonly retryAfterMs: number,
    /** The breaker's name. */
    readonly circuit: string,
    message = `Circuit ${circuit} is open; retry after ${Math.ceil(retryAfterMs)} ms`,
  ) {
    super('BROKEN_CIRCUIT', message);
  }
}

/**
 * The circuit was isolated by `isolate()` and stays open until `reset()`: the call was not
 * attempted. Not retried by `retry`'s default predicate.
 */
export class IsolatedCircuitError extends ExecutionRejectedError {
  override name = 'IsolatedCircuitError';
  constructor(
    /** The breaker's name. */
    readonly circuit: string,
  ) {
    super('ISOLATED_CIRCUIT', `Circuit ${circuit} is isolated until reset()`);
  }
}
