/** Emitted by `retry` when it schedules another attempt. */
export interface RetryEvent {
  /** The attempt about to run after the delay (2 for the first retry). */
  readonly attempt: number;
  /** The wait before it, in ms. */
  readonly delayMs: number;
  /** The error that caused the retry, if it was an error. */
  readonly error?: unknown;
  /** The result that caused the retry, if `retryOnResult` matched one. */
  readonly result?: unknown;
}

/** Why `retry` stopped retrying a failed call. */
export type GiveUpReason = 'max-attempts' | 'max-elapsed' | 'budget' | 'not-retryable';

/** Emitted by `retry` when it gives up and passes on the last error or result. */
export interface GiveUpEvent {
  /** Attempts made. */
  readonly attempts: number;
  /** Why it stopped. */
  readonly reason: GiveUpReason;
  /** The last error, when the last attempt failed. */
  readonly error?: unknown;
  /** The last result, when `retryOnResult` matched it. */
  readonly result?: unknown;
}

/** Events of the retry policy, by name. */
export interface RetryEvents {
  /** Another attempt was scheduled. */
  retry: RetryEvent;
  /** The policy gave up. */
  giveUp: GiveUpEvent;
}
