import { assertJson, type JsonValue } from '../definition/json.js';
import type { SagaStepDefinition } from '../definition/saga-definition.js';
import type { RecordedError } from '../errors/saga-error.js';
import type { RunState } from './run-state.js';

/** What a step's callbacks receive: the run, the results of the steps before it, and its key. */
export function stepContext(state: RunState, index: number, attempt: number, signal: AbortSignal) {
  const step = state.saga.steps[index] as SagaStepDefinition;
  const results: Record<string, JsonValue> = {};
  for (let earlier = 0; earlier < index; earlier++) {
    const name = (state.saga.steps[earlier] as SagaStepDefinition).name;
    if (name in state.results) results[name] = state.results[name] as JsonValue;
  }
  return {
    sagaId: state.id,
    sagaName: state.saga.name,
    step: step.name,
    input: state.input,
    results,
    idempotencyKey: `${state.id}:${step.name}`,
    attempt,
    signal,
  };
}

/** A step's result as the log keeps it (`undefined` becomes `null`); throws when it is not JSON. */
export function storableResult(value: unknown, state: RunState, step: string): JsonValue {
  const stored = value === undefined ? null : value;
  assertJson(stored, `result of step "${step}" of saga "${state.saga.name}"`);
  return stored;
}

/** How one forward step ended: with a result, failed for good, or parked on a reply. */
export type StepResult =
  | { kind: 'ok'; value: JsonValue }
  | { kind: 'failed'; error: RecordedError }
  | { kind: 'parked' };
