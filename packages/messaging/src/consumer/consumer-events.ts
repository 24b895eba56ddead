import type { Envelope } from '../envelope/envelope.js';

/** The events of a consumer, by name. */
export interface ConsumerEvents {
  /** The handler succeeded; the delivery was acked. */
  'message-handled': { readonly message: Envelope; readonly attempts: number; readonly durationMs: number };
  /** The handler failed and will run again after `delayMs`. */
  'retry-scheduled': {
    readonly message: Envelope;
    readonly attempt: number;
    readonly delayMs: number;
    readonly error: unknown;
  };
  /** Retries ran out (or the error was non-retryable): the message went to the dead-letter topic. */
  'message-dead-lettered': { readonly message: Envelope; readonly attempts: number; readonly error: unknown };
  /**
   * Retries ran out and there is no dead-letter topic (or publishing to it failed): the delivery
   * was nacked and the transport will deliver it again.
   */
  'message-failed': { readonly message: Envelope; readonly attempts: number; readonly error: unknown };
  /** The inbox had already seen this message completed: the handler did not run. */
  'duplicate-skipped': { readonly message: Envelope };
  /**
   * Something failed around the handler (the inbox store, an ack, a dead-letter publish); the
   * consumer goes on. With no listener, each one is emitted as a process warning (type
   * `BulwarkWarning`) so it is not lost from sight.
   */
  'consumer-error': { readonly error: unknown };
}
