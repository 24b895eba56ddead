import type { StateChangeReason } from '../circuit-breaker/circuit-breaker-events.js';
import type { CircuitState } from '../circuit-breaker/circuit-breaker-options.js';
import type { GiveUpReason } from '../retry/retry-events.js';

/** Emitted before a request is sent again. */
export interface HttpRetryEvent {
  /** The request's method. */
  readonly method: string;
  /** The URL the failed attempt went to. */
  readonly url: string;
  /** The attempt about to run after the delay (2 for the first retry). */
  readonly attempt: number;
  /** The wait before it, in ms (the server's `Retry-After` when it sent one). */
  readonly delayMs: number;
  /** The failure: an `HttpStatusError` for a transient status, else the thrown error. */
  readonly error: unknown;
}

/** Emitted when the retry step stops and passes on the last failure. */
export interface HttpGiveUpEvent {
  /** The request's method. */
  readonly method: string;
  /** The URL the last attempt went to. */
  readonly url: string;
  /** Attempts made. */
  readonly attempts: number;
  /** Why it stopped (`max-elapsed` also when a `Retry-After` would pass the total timeout). */
  readonly reason: GiveUpReason;
  /** The last failure. */
  readonly error: unknown;
}

/** A breaker of one origin (or route) changed state. */
export interface HttpCircuitStateChangeEvent {
  /** The origin or route key. */
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: StateChangeReason;
}

/** A hedged attempt started. */
export interface HttpHedgeEvent {
  /** The attempt started within the hedge: 2 for the first hedge. */
  readonly attempt: number;
  /** `delay` when the previous attempt was slow, `failure` when it failed. */
  readonly trigger: 'delay' | 'failure';
}

/** Events of {@link resilientFetch}, by name. */
export interface ResilientFetchEvents {
  retry: HttpRetryEvent;
  giveUp: HttpGiveUpEvent;
  stateChange: HttpCircuitStateChangeEvent;
  hedge: HttpHedgeEvent;
}
