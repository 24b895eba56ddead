/** Emitted by `timeout` when a call's deadline passes. */
export interface TimeoutEvent {
  /** The deadline, in ms. */
  readonly timeoutMs: number;
  /** The attempt number of the call that timed out. */
  readonly attempt: number;
}

/** Events of the timeout policy, by name. */
export interface TimeoutEvents {
  /** A deadline passed. */
  timeout: TimeoutEvent;
}
