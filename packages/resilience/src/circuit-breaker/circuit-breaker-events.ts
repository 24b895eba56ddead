import type { CircuitState } from './circuit-breaker-options.js';

/** Why a circuit changed state. */
export type StateChangeReason =
  | 'failures'
  | 'half-open'
  | 'probe-succeeded'
  | 'probe-failed'
  | 'isolated'
  | 'reset'
  | 'store';

/** Emitted on every transition. */
export interface StateChangeEvent {
  /** The state left. */
  readonly from: CircuitState;
  /** The state entered. */
  readonly to: CircuitState;
  /** What caused the transition. */
  readonly reason: StateChangeReason;
  /** When `to` is `open`: the clock time from which probes are admitted. */
  readonly openUntil?: number;
}

/** Emitted after a call the breaker ran succeeded. */
export interface CircuitSuccessEvent {
  /** How long it took (measured only when someone listens or slow calls are tracked). */
  readonly durationMs: number;
  /** The state the call ran in (`closed` or `half-open`). */
  readonly state: CircuitState;
}

/** Emitted after a call the breaker ran failed with an error that counts. */
export interface CircuitFailureEvent {
  /** The error the call failed with. */
  readonly error: unknown;
  /** How long the call took. */
  readonly durationMs: number;
  /** The state the call ran in (`closed` or `half-open`). */
  readonly state: CircuitState;
}

/** Emitted when the breaker refuses a call. */
export interface CircuitRejectedEvent {
  /** The `BrokenCircuitError` or `IsolatedCircuitError` the call rejected with. */
  readonly error: Error;
}

/** Emitted when the shared {@link CircuitStateStore} failed; the breaker goes on with local state. */
export interface CircuitStoreErrorEvent {
  /** The store's error. */
  readonly error: unknown;
}

/** Events of the circuit breaker, by name. */
export interface CircuitBreakerEvents {
  /** Every transition. */
  stateChange: StateChangeEvent;
  /** A call the breaker ran succeeded. */
  success: CircuitSuccessEvent;
  /** A call the breaker ran failed with an error that counts. */
  failure: CircuitFailureEvent;
  /** The breaker refused a call. */
  rejected: CircuitRejectedEvent;
  /** The shared store failed. */
  storeError: CircuitStoreErrorEvent;
}
