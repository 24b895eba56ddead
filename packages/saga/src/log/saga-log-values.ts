import { keyProblem, textProblem } from '@bulwark/resilience';
import { assertJson } from '../definition/json.js';
import { InvalidSagaValueError } from '../errors/saga-error.js';
import type { NewSagaLogEntry, SagaLog } from './saga-log.js';

/**
 * What every {@link SagaLog} checks before it touches its backend, so each refuses the same values:
 * saga ids and names are keys, owners text ({@link InvalidSagaValueError}), inputs and entry data
 * plain JSON without NUL or lone surrogates (`SagaNotSerializableError`).
 */
export function assertSagaLogValues(values: {
  sagaId?: string;
  name?: string;
  owner?: string;
  input?: unknown;
  entries?: readonly NewSagaLogEntry[];
}): void {
  for (const [field, value] of [
    ['id', values.sagaId],
    ['name', values.name],
  ] as const) {
    if (value === undefined) continue;
    const problem = keyProblem(value);
    if (problem !== undefined) throw new InvalidSagaValueError(field, problem);
  }
  if (values.owner !== undefined) {
    const problem = textProblem(values.owner);
    if (problem !== undefined) throw new InvalidSagaValueError('owner', problem);
  }
  if (values.input !== undefined) assertJson(values.input, `input of saga "${values.sagaId}"`);
  for (const entry of values.entries ?? []) {
    if (entry.step !== undefined) {
      const problem = keyProblem(entry.step);
      if (problem !== undefined) throw new InvalidSagaValueError('step', problem);
    }
    if (entry.data !== undefined) assertJson(entry.data, `${entry.kind} entry of saga "${values.sagaId}"`);
  }
}
