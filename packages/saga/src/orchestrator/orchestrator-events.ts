import type { RecordedError } from '../errors/saga-error.js';

/** Fields every saga event carries. */
export interface SagaEventBase {
  readonly sagaId: string;
  /** The saga definition's name. */
  readonly saga: string;
  /** The orchestrator's clock when the event happened. */
  readonly at: number;
}

/** Events of a saga orchestrator, by name. */
export interface SagaOrchestratorEvents {
  /** A new run was recorded by `start()`. */
  'saga-started': SagaEventBase;
  /** A run was picked up from the log (after a crash, a lease expiry, a reply or a wake-up). */
  'saga-resumed': SagaEventBase;
  /** A step's outcome was recorded as success. */
  'saga-step-completed': SagaEventBase & { readonly step: string };
  /** A step failed for good (its retry policy gave up, it timed out, or the reply did not come). */
  'saga-step-failed': SagaEventBase & { readonly step: string; readonly error: RecordedError };
  /** A step's compensation succeeded. */
  'saga-step-compensated': SagaEventBase & { readonly step: string };
  /** Every step succeeded. */
  'saga-completed': SagaEventBase;
  /** A step failed and every completed step was compensated. */
  'saga-compensated': SagaEventBase;
  /** A compensation kept failing: the run is `failed` and needs attention. */
  'saga-failed': SagaEventBase & { readonly step: string; readonly error: RecordedError };
  /**
   * The orchestrator stopped driving a run because of an infrastructure problem (a log write
   * failed, the lease was lost). The run stays in the log and is resumed by recovery.
   */
  'saga-error': SagaEventBase & { readonly error: unknown };
}

/** A saga event name. */
export type SagaOrchestratorEventName = keyof SagaOrchestratorEvents;

/** A listener of one event; `on()` returns the {@link @bulwark/resilience!EventSubscription} that removes it. */
export type SagaOrchestratorListener<Name extends SagaOrchestratorEventName> = (
  event: SagaOrchestratorEvents[Name],
) => void;
