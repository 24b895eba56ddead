/**
 * Base of every error thrown by `@bulwark/resilience`. `code` is stable across versions and is
 * what programs should switch on; `cause` chains the underlying error when there is one.
 */
export class ResilienceError extends Error {
  override name = 'ResilienceError';
  constructor(
    /** A stable, machine-readable code such as `BROKEN_CIRCUIT`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Base of the errors by which a policy refuses to run a call (open breaker, full bulkhead,
 * rate limit), so callers can treat every refusal alike.
 */
export class ExecutionRejectedError extends ResilienceError {
  override name = 'ExecutionRejectedError';
}

/** Thrown when options passed to a factory are invalid; lists every problem at once. */
export class InvalidOptionsError extends ResilienceError {
  override name = 'InvalidOptionsError';
  constructor(
    /** The factory whose options were rejected, e.g. `retry`. */
    readonly subject: string,
    /** One sentence per problem found. */
    readonly problems: readonly string[],
  ) {
    super('INVALID_OPTIONS', `Invalid ${subject} options:\n- ${problems.join('\n- ')}`);
  }
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
