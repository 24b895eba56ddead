import { MessagingError } from '../errors/messaging-error.js';

/**
 * Thrown by a handler to say retrying cannot help (a malformed message, a rule that rejects it):
 * the consumer dead-letters the message at once instead of retrying.
 *
 * @example
 * ```ts
 * if (!isValid(message.payload)) throw new NonRetryableError('order has no lines');
 * ```
 */
export class NonRetryableError extends MessagingError {
  override name = 'NonRetryableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('NON_RETRYABLE', message, options);
  }
}

/** The failure recorded when a message was delivered more than `maxDeliveries` times. */
export class MaxDeliveriesExceededError extends MessagingError {
  override name = 'MaxDeliveriesExceededError';
  constructor(
    /** How many times the transport delivered the message. */
    readonly deliveryCount: number,
  ) {
    super(
      'MAX_DELIVERIES_EXCEEDED',
      `The message was delivered ${deliveryCount} times without being settled (its consumers keep dying?)`,
    );
  }
}
