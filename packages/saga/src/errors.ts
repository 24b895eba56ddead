/**
 * Base of every error thrown by `@bulwark/saga`; `code` is stable across versions.
 */
export class SagaError extends Error {
  override name = 'SagaError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
