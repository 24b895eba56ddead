/**
 * Headers the consumer adds to a message it dead-letters. The message keeps its id, type,
 * payload and original headers; its `topic` becomes the dead-letter topic.
 */
export const deadLetterHeaders = {
  /** The error's message. */
  error: 'x-dead-letter-error',
  /** The error's `name` (e.g. `NonRetryableError`). */
  errorName: 'x-dead-letter-error-name',
  /** The error's stable `code`, when it has one. */
  errorCode: 'x-dead-letter-error-code',
  /** How many times the handler ran before giving up (decimal). */
  attempts: 'x-dead-letter-attempts',
  /** The transport's delivery count of the last delivery (decimal). */
  deliveryCount: 'x-dead-letter-delivery-count',
  /** ISO-8601 time of the first failed attempt. */
  firstFailureAt: 'x-dead-letter-first-failure-at',
  /** ISO-8601 time of the last failed attempt. */
  lastFailureAt: 'x-dead-letter-last-failure-at',
  /** The topic the message was consumed from, where replay sends it back. */
  originalTopic: 'x-dead-letter-original-topic',
  /** The consumer group that gave up on it. */
  originalGroup: 'x-dead-letter-original-group',
} as const;

/** The name of one of the {@link deadLetterHeaders}. */
export type DeadLetterHeader = (typeof deadLetterHeaders)[keyof typeof deadLetterHeaders];
