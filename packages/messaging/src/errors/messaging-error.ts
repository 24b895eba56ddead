/**
 * Base of every error thrown by `@bulwark/messaging`. `code` is stable across versions;
 * `cause` chains the underlying error when there is one.
 */
export class MessagingError extends Error {
  override name = 'MessagingError';
  constructor(
    /** A stable, machine-readable code such as `IDEMPOTENCY_CONFLICT`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when options passed to a factory are invalid; lists every problem at once. */
export class InvalidMessagingOptionsError extends MessagingError {
  override name = 'InvalidMessagingOptionsError';
  constructor(
    readonly subject: string,
    readonly problems: readonly string[],
  ) {
    super('INVALID_OPTIONS', `Invalid ${subject} options:\n- ${problems.join('\n- ')}`);
  }
}
