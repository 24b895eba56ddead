import type { JsonValue } from '../definition/json.js';
import type { RecordedError } from '../errors/saga-error.js';
import type { SagaStatus } from '../log/saga-log.js';
import type { RunState } from './run-state.js';

/** How a run ended, as returned by {@link SagaOrchestrator.wait}. */
export interface SagaOutcome {
  readonly id: string;
  readonly saga: string;
  readonly status: SagaStatus;
  /** Results of the steps that completed, by step name. */
  readonly results: Readonly<Record<string, JsonValue>>;
  /** The step that failed, when one did. */
  readonly failedStep?: string;
  /** Its error, as recorded. */
  readonly error?: RecordedError;
}

export function outcomeOf(state: RunState, status: SagaStatus): SagaOutcome {
  const outcome: {
    -readonly [K in keyof SagaOutcome]: SagaOutcome[K];
  } = { id: state.id, saga: state.saga.name, status, results: { ...state.results } };
  if (state.failedStep !== undefined) outcome.failedStep = state.failedStep;
  if (state.failure !== undefined) outcome.error = state.failure;
  return outcome;
}
