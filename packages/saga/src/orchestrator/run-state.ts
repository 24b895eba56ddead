import type { JsonValue } from '../definition/json.js';
import type { RecordedError } from '../errors/saga-error.js';
import type { SagaLogEntry, SagaRecord } from '../log/saga-log.js';
import { type SagaTraceContext, sagaTraceOf } from '../telemetry/saga-spans.js';
import type { RegisteredSaga } from './orchestrator-options.js';

/** What a request step waits for, as recorded by its `reply-awaited` entry. */
export interface AwaitedReply {
  readonly step: number;
  readonly correlationId: string;
  readonly deadline: number;
  readonly timeoutMs: number;
}

/**
 * A run as the orchestrator drives it: rebuilt from the log's entries after a crash, kept
 * in step with the log by every write while driving.
 */
export interface RunState {
  readonly id: string;
  readonly saga: RegisteredSaga;
  readonly input: JsonValue;
  readonly createdAt: number;
  readonly results: Record<string, JsonValue>;
  phase: 'forward' | 'compensating' | 'done';
  /** Forward: the index of the next step to run (its intent may already be logged). */
  next: number;
  /** Whether the intent of `next` (forward) or of the compensation target is logged. */
  intentLogged: boolean;
  /** Indices of completed steps, in completion order. */
  readonly completed: number[];
  readonly compensated: Set<number>;
  failure?: RecordedError;
  failedStep?: string;
  awaiting?: AwaitedReply;
  /** The reply envelope received for `awaiting`, as stored. */
  reply?: JsonValue;
  /** The last compensation whose intent was logged. */
  compensating?: number;
  /** The run's trace context, kept by its `saga-started` entry, so every process continues one trace. */
  trace?: SagaTraceContext | undefined;
}

/** A fresh run, before any step ran. */
export function newRunState(record: Pick<SagaRecord, 'id' | 'input' | 'createdAt'>, saga: RegisteredSaga): RunState {
  return {
    id: record.id,
    saga,
    input: record.input,
    createdAt: record.createdAt,
    results: {},
    phase: 'forward',
    next: 0,
    intentLogged: false,
    completed: [],
    compensated: new Set(),
  };
}

/** Rebuilds a run from its record and timeline (the log is the truth; memory is a cache of it). */
export function replayRun(record: SagaRecord, saga: RegisteredSaga, entries: readonly SagaLogEntry[]): RunState {
  const state = newRunState(record, saga);
  const indexOf = (name: string | undefined) => saga.steps.findIndex((step) => step.name === name);
  for (const entry of entries) {
    const index = indexOf(entry.step);
    switch (entry.kind) {
      case 'step-intent':
        state.next = index;
        state.intentLogged = true;
        break;
      case 'step-completed':
        state.results[entry.step as string] = entry.data ?? null;
        state.completed.push(index);
        state.next = index + 1;
        state.intentLogged = false;
        state.awaiting = undefined;
        state.reply = undefined;
        break;
      case 'step-failed':
        state.phase = 'compensating';
        state.failure = entry.data as unknown as RecordedError;
        state.failedStep = entry.step;
        state.intentLogged = false;
        state.awaiting = undefined;
        state.reply = undefined;
        break;
      case 'reply-awaited': {
        const data = entry.data as { correlationId: string; deadline: number; timeoutMs: number };
        state.awaiting = { step: index, ...data };
        break;
      }
      case 'reply-received':
        state.reply = entry.data ?? null;
        break;
      case 'saga-started':
        state.trace = sagaTraceOf(entry.data);
        break;
      case 'compensation-intent':
        state.compensating = index;
        state.intentLogged = true;
        break;
      case 'step-compensated':
        state.compensated.add(index);
        state.intentLogged = false;
        break;
      case 'saga-completed':
      case 'saga-compensated':
      case 'saga-failed':
      case 'compensation-failed':
        state.phase = 'done';
        break;
      default:
        break;
    }
  }
  if (record.status === 'completed' || record.status === 'compensated' || record.status === 'failed')
    state.phase = 'done';
  return state;
}

/** The next step to compensate: the latest completed one with a `compensate`, not yet compensated. */
export function nextCompensation(state: RunState): number | undefined {
  for (let position = state.completed.length - 1; position >= 0; position--) {
    const index = state.completed[position] as number;
    const step = state.saga.steps[index];
    if (step?.options.compensate && !state.compensated.has(index)) return index;
  }
  return undefined;
}
