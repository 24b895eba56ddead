import { abortable, delay, type EventSubscription, InvalidOptionsError } from '@bulwark/resilience';

import { assertJson } from '../definition/json.js';

import type { SagaDefinition } from '../definition/saga-definition.js';

import { SagaError, SagaIdConflictError, SagaOrchestratorClosedError, UnknownSagaError } from '../errors/saga-error.js';
import {
  type NewSagaLogEntry,
  type SagaListQuery,
  type SagaLogCallOptions,
  type SagaLogEntry,
  type SagaPurgeQuery,
  type SagaRecord,
  type SagaStatus,
  terminalSagaStatuses,
} from '../log/saga-log.js';

import { sagaStartedData, startSagaTrace } from '../telemetry/saga-spans.js';

import { leaseHeartbeat } from './lease-heartbeat.js';

import { orchestratorCore } from './orchestrator-core.js';

import type { SagaOrchestratorEventName, SagaOrchestratorListener } from './orchestrator-events.js';

import { orchestratorListeners } from './orchestrator-listeners.js';

import { type SagaOrchestratorOptions, validateOrchestratorOptions } from './orchestrator-options.js';

import { recovery } from './recovery.js';

import { replyRouter } from './reply-router.js';

import { runDrivers } from './run-drivers.js';

import { newRunState, replayRun } from './run-state.js';

import { outcomeOf, type SagaOutcome } from './saga-outcome.js';

export type { SagaOutcome } from './saga-outcome.js';

/** Options of {@link SagaOrchestrator.start}. */
export interface StartSagaOptions {
  /** The run's id, unique per run: a second `start` with the same id returns the first run. */
  id: string;
  signal?: AbortSignal;
}

/** What {@link SagaOrchestrator.start} returns. */
export interface SagaRun {
  readonly id: string;
  /** The saga definition's name. */
  readonly saga: string;
  /** False when a run with this id already existed (nothing new was started). */
  readonly created: boolean;
  /** The run's status when `start` returned. */
  readonly status: SagaStatus;
}

/** Options of {@link SagaOrchestrator.wait}. */
export interface WaitForSagaOptions {
  signal?: AbortSignal;
  /** How often the log is read while another orchestrator drives the run. @defaultValue 1_000 */
  pollMs?: number;
}

/** What {@link SagaOrchestrator.snapshot} returns, for dashboards. */
export interface SagaOrchestratorSnapshot {
  readonly owner: string;
  /** Runs this orchestrator drives now. */
  readonly driving: number;
  /** Runs parked on a reply whose deadline this orchestrator watches. */
  readonly watching: number;
  readonly closed: boolean;
}

/** Runs sagas: see {@link sagaOrchestrator}. */
export interface SagaOrchestrator extends AsyncDisposable {
  /** This orchestrator's name in the log's leases. */
  readonly owner: string;
  /**
   * Records a new run (its start and the intent of its first step, in one write) and drives
   * it in the background; resolves once the run is durable. Idempotent by `id`.
   * Throws `SagaNotSerializableError` when the input is not plain JSON and
   * `SagaIdConflictError` when the id belongs to a run of another saga.
   */
  start<Input, Results>(
    saga: SagaDefinition<Input, Results>,
    input: Input,
    options: StartSagaOptions,
  ): Promise<SagaRun>;
  /**
   * Resolves when the run reaches `completed`, `compensated` or `failed` (at once if it did
   * already); rejects with a `SagaError` of code `SAGA_NOT_FOUND` for an unknown id. A run driven
   * here is awaited in memory; one driven elsewhere is polled every `pollMs`.
   */
  wait(sagaId: string, options?: WaitForSagaOptions): Promise<SagaOutcome>;
  /**
   * Takes over runs that nobody drives (their orchestrator died, its lease ran out, or a
   * parked wait is due) and resumes them; subscribes to reply topics. Resolves with the
   * number of runs taken, which keep running in the background (see `idle()`).
   */
  recover(options?: SagaLogCallOptions): Promise<number>;
  /** Resolves when this orchestrator drives no run. */
  idle(): Promise<void>;
  get(sagaId: string, options?: SagaLogCallOptions): Promise<SagaRecord | undefined>;
  /** The run's timeline: every intent, outcome, retry and error, with times. */
  history(sagaId: string, options?: SagaLogCallOptions): Promise<SagaLogEntry[]>;
  /** Runs by status, most recently updated first. */
  list(query?: SagaListQuery, options?: SagaLogCallOptions): Promise<SagaRecord[]>;
  /** How many runs are in each status. */
  counts(options?: SagaLogCallOptions): Promise<Record<SagaStatus, number>>;
  /** Deletes finished runs last updated before `finishedBefore` (see `SagaLog.purge`). */
  purge(query: SagaPurgeQuery, options?: SagaLogCallOptions): Promise<number>;
  /**
   * Adds a listener; call or dispose the returned subscription to remove it. A listener that
   * throws does not stop the run: the error is rethrown asynchronously.
   */
  on<Name extends SagaOrchestratorEventName>(event: Name, listener: SagaOrchestratorListener<Name>): EventSubscription;
  snapshot(): SagaOrchestratorSnapshot;
  /**
   * Stops the loops, aborts steps in flight (their signal) and gives their leases back so
   * another orchestrator resumes them at once. Clients passed in are not closed.
   */
  close(): Promise<void>;
}

/**
 * Creates a saga orchestrator.
 *
 * Every transition is one atomic log write: the outcome of a step and the intent of the next
 * go together, so a 3-step run costs 4 writes. A step whose intent is logged without an
 * outcome runs again after a crash with the same idempotency key (`<sagaId>:<step>`).
 *
 * @example
 * ```ts
 * const sagas = sagaOrchestrator({ log: postgresSagaLog(pool), sagas: [placeOrder] });
 * await sagas.recover();                                   // resumes what a crash left
 * await sagas.start(placeOrder, input, { id: orderId });   // idempotent by id
 * const outcome = await sagas.wait(orderId);
 * ```
 */
export function sagaOrchestrator(options: SagaOrchestratorOptions): SagaOrchestrator {
  validateOrchestratorOptions(options);
  const listeners = orchestratorListeners();
  const core = orchestratorCore(options, listeners);
  const { log, clock, owner, sagas, driving, wakeTimers } = core;
  const { emit } = listeners;
  const isTerminal = (status: SagaStatus) => terminalSagaStatuses.includes(status);

  const drivers = runDrivers(core);
  const replies = replyRouter(core, drivers);
  const stopHeartbeat = leaseHeartbeat(core);
  const recoverer = recovery(core, drivers, replies);

  const orchestrator: SagaOrchestrator = {
    owner,

    async start(saga, input, startOptions) {
      if (core.closed) throw new SagaOrchestratorClosedError();
      const id = startOptions?.id;
      if (typeof id !== 'string' || id.length === 0)
        throw new InvalidOptionsError('start', ['id must be a non-empty string']);
      const registered = sagas.get(saga.name);
      if (!registered) throw new UnknownSagaError(saga.name);
      assertJson(input, `input of saga "${saga.name}"`);
      if (driving.has(id)) return { id, saga: saga.name, created: false, status: 'running' };
      await replies.subscribe();
      const now = clock.now();
      const first = registered.steps[0];
      const trace = startSagaTrace(saga.name, id);
      const entries: NewSagaLogEntry[] = [{ at: now, kind: 'saga-started', ...sagaStartedData(trace) }];
      if (first) entries.push({ at: now, kind: 'step-intent', step: first.name });
      const { created, record } = await log.create(
        { id, name: saga.name, input, owner, leaseUntil: now + core.leaseMs, at: now },
        entries,
        { signal: startOptions.signal },
      );
      if (!created) {
        if (record.name !== saga.name) throw new SagaIdConflictError(id, record.name, saga.name);
        return { id, saga: saga.name, created: false, status: record.status };
      }
      emit('saga-started', () => ({ sagaId: id, saga: saga.name, at: now }));
      const state = newRunState(record, registered);
      state.intentLogged = first !== undefined;
      state.trace = trace;
      drivers.launch(id, saga.name, async () => state);
      return { id, saga: saga.name, created: true, status: 'running' };
    },

    async wait(sagaId, waitOptions = {}) {
      const { signal } = waitOptions;
      const pollMs = waitOptions.pollMs ?? 1_000;
      for (;;) {
        signal?.throwIfAborted();
        const local = driving.get(sagaId);
        if (local) {
          const outcome = await abortable(local.done, signal);
          if (outcome) return outcome;
        }
        const record = await log.get(sagaId, { signal });
        if (!record) throw new SagaError('SAGA_NOT_FOUND', `No saga run with id "${sagaId}"`);
        if (isTerminal(record.status)) {
          const saga = sagas.get(record.name) ?? { name: record.name, steps: [] };
          const state = replayRun(record, saga, await log.history(sagaId, { signal }));
          return outcomeOf(state, record.status);
        }
        if (!driving.has(sagaId)) await delay(clock, pollMs, signal);
      }
    },

    recover: recoverer.recover,

    async idle() {
      while (driving.size > 0) await Promise.all([...driving.values()].map((driver) => driver.done));
    },

    get: (sagaId, callOptions) => log.get(sagaId, callOptions),
    history: (sagaId, callOptions) => log.history(sagaId, callOptions),
    list: (query, callOptions) => log.list(query, callOptions),
    counts: (callOptions) => log.counts(callOptions),
    purge: (query, callOptions) => log.purge(query, callOptions),

    on: listeners.on,

    snapshot: () => ({ owner, driving: driving.size, watching: wakeTimers.size, closed: core.closed }),

    async close() {
      if (core.closed) return;
      core.closed = true;
      stopHeartbeat();
      recoverer.stop();
      for (const timer of wakeTimers.values()) clock.clearTimeout(timer);
      wakeTimers.clear();
      const stopped = [...driving.keys()];
      for (const driver of driving.values()) driver.controller.abort(new SagaOrchestratorClosedError());
      await Promise.all([...driving.values()].map((driver) => driver.done));
      await replies.close();
      // Give the leases back so another orchestrator resumes these runs now, not after leaseMs.
      const now = clock.now();
      await Promise.allSettled(
        stopped.map((sagaId) => log.append(sagaId, owner, { entries: [], at: now, leaseUntil: 0, release: true })),
      );
    },

    async [Symbol.asyncDispose]() {
      await orchestrator.close();
    },
  };
  return orchestrator;
}
