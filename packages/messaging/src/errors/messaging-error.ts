import { BulwarkError } from '@bulwark/resilience';

/**
 * Base of the errors thrown by `@bulwark/messaging` (options errors excepted: they are the shared
 * {@link @bulwark/resilience!InvalidOptionsError}). A {@link @bulwark/resilience!BulwarkError}:
 * `code` is stable across versions; `cause` chains the underlying error when there is one.
 */
export class MessagingError extends BulwarkError {
  override name = 'MessagingError';
}

/**
 * Thrown before any write when a value cannot be stored or sent unchanged by every backend: a
 * NUL character (PostgreSQL `text` and `jsonb` refuse it), a lone UTF-16 surrogate (no UTF-8
 * form), a key, id, topic or group past the length the backends allow. The memory adapters
 * refuse the same values, so what works in tests works in production.
 */
export class InvalidMessagingValueError extends MessagingError {
  override name = 'InvalidMessagingValueError';
  constructor(
    /** Which value was refused, e.g. `topic`, `message.headers.traceparent`, `message.payload.note`. */
    readonly field: string,
    /** Why, e.g. `contains a NUL character (U+0000) at index 3`. */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super('INVALID_VALUE', `The ${field} ${problem}`, options);
  }
}
