/**
 * Base of every error thrown by the Bulwark packages. Each package has its own subclass
 * ({@link ResilienceError}, `MessagingError`, `SagaError`) so `instanceof` tells where an error
 * comes from; `code` is stable across versions and is what programs should switch on; `cause`
 * chains the underlying error when there is one.
 */
export class BulwarkError extends Error {
  override name = 'BulwarkError';
  constructor(
    /** A stable, machine-readable code such as `BROKEN_CIRCUIT`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
