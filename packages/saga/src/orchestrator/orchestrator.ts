import { createHash, randomUUID } from 'node:crypto';

import { createEnvelope, type Delivery, type Envelope, type Subscription } from '@bulwark/messaging';

import { abortable, type Clock, delay, InvalidOptionsError, systemClock } from '@bulwark/resilience';

import { assertJson, type JsonValue } from '../definition/json.js';

import type { SagaDefinition, SagaStepDefinition } from '../definition/saga-definition.js';

import {
  type RecordedError,
  recordError,
  SagaError,
  SagaIdConflictError,
  SagaLeaseLostError,
  SagaOrchestratorClosedError,
  SagaReplyTimeoutError,
  SagaStepTimeoutError,
  UnknownSagaError,
} from '../errors/saga-error.js';
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

import {
  sagaStartedData,
  sagaStepEvent,
  startSagaTrace,
  type TracedOutcome,
  traceSagaRun,
  traceSagaStep,
} from '../telemetry/saga-spans.js';

import type {
  SagaOrchestratorEventName,
  SagaOrchestratorEvents,
  SagaOrchestratorListener,
} from './orchestrator-events.js';

import {
  type RegisteredSaga,
  type SagaOrchestratorOptions,
  sagaOrchestratorDefaults,
  validateOrchestratorOptions,
} from './orchestrator-options.js';

import { newRunState, nextCompensation, type RunState, replayRun } from './run-state.js';

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
  /** Adds a listener; returns the function that removes it. */
  on<Name extends SagaOrchestratorEventName>(event: Name, listener: SagaOrchestratorListener<Name>): () => void;
  snapshot(): SagaOrchestratorSnapshot;
  /**
   * Stops the loops, aborts steps in flight (their signal) and gives their leases back so
   * another orchestrator resumes them at once. Clients passed in are not closed.
   */
  close(): Promise<void>;
}

type StepResult = { kind: 'ok'; value: JsonValue } | { kind: 'failed'; error: RecordedError } | { kind: 'parked' };

/** How a step span ends: `ok`, `parked` (waiting for a reply) or `failed` with the recorded error. */
const stepOutcome = (result: StepResult): TracedOutcome =>
  result.kind === 'failed'
    ? { outcome: 'failed', error: { message: result.error.message, type: result.error.code ?? result.error.name } }
    : { outcome: result.kind };

/** How a compensation span ends: `compensated`, or `failed` after its retries. */
const compensationOutcome = (failure: RecordedError | undefined): TracedOutcome =>
  failure
    ? { outcome: 'failed', error: { message: failure.message, type: failure.code ?? failure.name } }
    : { outcome: 'compensated' };

interface Driver {
  readonly controller: AbortController;
  done: Promise<SagaOutcome | undefined>;
}

const isTerminal = (status: SagaStatus) => terminalSagaStatuses.includes(status);

/** A UUID-shaped message id derived from the idempotency key, so a resent command is the same message. */
function deterministicMessageId(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
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
  const { log, transport } = options;
  const clock: Clock = options.clock ?? systemClock;
  const owner = options.owner ?? randomUUID();
  const leaseMs = options.leaseMs ?? sagaOrchestratorDefaults.leaseMs;
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3));
  const recoverEveryMs = options.recoverEveryMs ?? sagaOrchestratorDefaults.recoverEveryMs;
  const recoverBatch = options.recoverBatch ?? sagaOrchestratorDefaults.recoverBatch;
  const maxRecoveredRuns = options.maxRecoveredRuns ?? sagaOrchestratorDefaults.maxRecoveredRuns;
  const replyGroup = options.replyGroup ?? sagaOrchestratorDefaults.replyGroup;
  const replyRetryDelayMs = options.replyRetryDelayMs ?? sagaOrchestratorDefaults.replyRetryDelayMs;
  const compensationRetry = { ...sagaOrchestratorDefaults.compensationRetry, ...options.compensationRetry };

  const sagas = new Map<string, RegisteredSaga>(options.sagas.map((saga) => [saga.name, saga]));
  const driving = new Map<string, Driver>();
  const claiming = new Set<string>();
  const wakeTimers = new Map<string, unknown>();
  const listeners = new Map<SagaOrchestratorEventName, Set<(event: never) => void>>();
  const subscriptions: Subscription[] = [];
  let subscribing: Promise<void> | undefined;
  let closed = false;
  let heartbeatTimer: unknown;
  let recoverTimer: unknown;

  // Request steps by reply topic, to find the run a reply belongs to from its correlation id.
  const replyTopics = new Map<string, { saga: RegisteredSaga; step: string }[]>();
  for (const saga of sagas.values())
    for (const step of saga.steps)
      if (step.kind === 'request') {
        const list = replyTopics.get(step.options.replyTopic) ?? [];
        list.push({ saga, step: step.name });
        replyTopics.set(step.options.replyTopic, list);
      }

  const emit = <Name extends SagaOrchestratorEventName>(name: Name, make: () => SagaOrchestratorEvents[Name]): void => {
    const set = listeners.get(name);
    if (!set || set.size === 0) return;
    const event = make();
    for (const listener of set) {
      try {
        (listener as SagaOrchestratorListener<Name>)(event);
      } catch {
        // A listener's failure must not stop a run half-way through a transition.
      }
    }
  };

  const outcomeOf = (state: RunState, status: SagaStatus): SagaOutcome => {
    const outcome: {
      -readonly [K in keyof SagaOutcome]: SagaOutcome[K];
    } = { id: state.id, saga: state.saga.name, status, results: { ...state.results } };
    if (state.failedStep !== undefined) outcome.failedStep = state.failedStep;
    if (state.failure !== undefined) outcome.error = state.failure;
    return outcome;
  };

  // ---- writes -------------------------------------------------------------------------------

  const write = async (
    state: RunState,
    controller: AbortController,
    entries: readonly Omit<NewSagaLogEntry, 'at'>[],
    extra: { status?: SagaStatus; release?: boolean; wakeAt?: number | null } = {},
  ): Promise<void> => {
    const now = clock.now();
    try {
      await log.append(
        state.id,
        owner,
        {
          entries: entries.map((entry) => ({ at: now, ...entry })),
          at: now,
          leaseUntil: now + leaseMs,
          ...extra,
        },
        { signal: controller.signal },
      );
    } catch (error) {
      // Whatever failed (lease lost, log down), this process stops driving the run: the log
      // still says where it stands and recovery resumes it from there.
      controller.abort(error);
      throw error;
    }
  };

  // ---- steps --------------------------------------------------------------------------------

  const contextFor = (state: RunState, index: number, attempt: number, signal: AbortSignal) => {
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
  };

  const storable = (value: unknown, state: RunState, step: string): JsonValue => {
    const stored = value === undefined ? null : value;
    assertJson(stored, `result of step "${step}" of saga "${state.saga.name}"`);
    return stored;
  };

  const runLocal = async (state: RunState, index: number, controller: AbortController): Promise<StepResult> => {
    const step = state.saga.steps[index] as Extract<SagaStepDefinition, { kind: 'local' }>;
    const runSignal = controller.signal;
    const { retry, timeoutMs, execute } = step.options;
    const attemptOnce = async (attempt: number, policySignal?: AbortSignal): Promise<unknown> => {
      let signal = runSignal;
      let timer: unknown;
      if (timeoutMs !== undefined || policySignal) {
        const signals = policySignal ? [runSignal, policySignal] : [runSignal];
        if (timeoutMs !== undefined) {
          const timeout = new AbortController();
          timer = clock.setTimeout(() => timeout.abort(new SagaStepTimeoutError(step.name, timeoutMs)), timeoutMs);
          signals.push(timeout.signal);
        }
        signal = AbortSignal.any(signals);
      }
      try {
        return await abortable(
          Promise.resolve().then(() => execute(contextFor(state, index, attempt, signal))),
          signal,
        );
      } catch (error) {
        if (runSignal.aborted) throw runSignal.reason;
        if (retry)
          await write(state, controller, [
            { kind: 'step-attempt-failed', step: step.name, attempt, data: recordError(error) as unknown as JsonValue },
          ]);
        throw error;
      } finally {
        if (timer !== undefined) clock.clearTimeout(timer);
      }
    };
    try {
      const value = retry
        ? await retry.execute((context) => attemptOnce(context.attempt, context.signal), { signal: runSignal })
        : await attemptOnce(1);
      return { kind: 'ok', value: storable(value, state, step.name) };
    } catch (error) {
      if (runSignal.aborted) throw runSignal.reason;
      return { kind: 'failed', error: recordError(error) };
    }
  };

  const runRequest = async (state: RunState, index: number, controller: AbortController): Promise<StepResult> => {
    const step = state.saga.steps[index] as Extract<SagaStepDefinition, { kind: 'request' }>;
    const signal = controller.signal;
    const key = `${state.id}:${step.name}`;
    const awaiting = state.awaiting?.step === index ? state.awaiting : undefined;
    try {
      if (awaiting && state.reply !== undefined) {
        const reply = state.reply as unknown as Envelope;
        const context = contextFor(state, index, 1, signal);
        const value = step.options.accept
          ? await abortable(
              Promise.resolve().then(() => step.options.accept?.(reply, context)),
              signal,
            )
          : reply.payload;
        return { kind: 'ok', value: storable(value, state, step.name) };
      }
      if (awaiting) {
        if (clock.now() >= awaiting.deadline)
          return {
            kind: 'failed',
            error: recordError(new SagaReplyTimeoutError(step.name, awaiting.correlationId, awaiting.timeoutMs)),
          };
        await write(state, controller, [], { release: true, wakeAt: awaiting.deadline });
        watch(state.id, awaiting.deadline);
        return { kind: 'parked' };
      }
      const command = await abortable(
        Promise.resolve().then(() => step.options.send(contextFor(state, index, 1, signal))),
        signal,
      );
      assertJson(command.payload, `command of step "${step.name}" of saga "${state.saga.name}"`);
      const envelope = createEnvelope(
        {
          id: deterministicMessageId(key),
          topic: command.topic,
          type: command.type,
          payload: command.payload,
          ...(command.key === undefined ? {} : { key: command.key }),
          headers: {
            ...command.headers,
            correlationId: key,
            'bulwark-saga-id': state.id,
            'bulwark-saga-step': step.name,
            'reply-to': step.options.replyTopic,
          },
        },
        { clock },
      );
      await (transport as NonNullable<typeof transport>).publish(command.topic, [envelope], { signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      return { kind: 'failed', error: recordError(error) };
    }
    // The wait lives in the log: the run is released and parked until its deadline; a reply
    // (to any orchestrator) or the deadline (a timer here, or recovery anywhere) resumes it.
    const timeoutMs = step.options.timeoutMs;
    const deadline = clock.now() + timeoutMs;
    await write(
      state,
      controller,
      [{ kind: 'reply-awaited', step: step.name, data: { correlationId: key, deadline, timeoutMs } }],
      { release: true, wakeAt: deadline },
    );
    state.awaiting = { step: index, correlationId: key, deadline, timeoutMs };
    sagaStepEvent('reply-awaited', { 'bulwark.saga.correlation_id': key, 'bulwark.saga.reply_timeout_ms': timeoutMs });
    watch(state.id, deadline);
    return { kind: 'parked' };
  };

  const runCompensation = async (
    state: RunState,
    index: number,
    controller: AbortController,
  ): Promise<RecordedError | undefined> => {
    const step = state.saga.steps[index] as SagaStepDefinition;
    const compensate = step.options.compensate as NonNullable<typeof step.options.compensate>;
    const signal = controller.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        const context = { ...contextFor(state, index, attempt, signal), result: state.results[step.name] ?? null };
        await abortable(
          Promise.resolve().then(() => compensate(context)),
          signal,
        );
        return undefined;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const recorded = recordError(error);
        await write(state, controller, [
          { kind: 'compensation-attempt-failed', step: step.name, attempt, data: recorded as unknown as JsonValue },
        ]);
        if (attempt >= compensationRetry.maxAttempts) return recorded;
        const backoff = Math.min(
          compensationRetry.maxDelayMs,
          compensationRetry.initialDelayMs * compensationRetry.factor ** (attempt - 1),
        );
        await delay(clock, backoff, signal);
      }
    }
  };

  // ---- the run loop -------------------------------------------------------------------------

  const drive = async (state: RunState, controller: AbortController): Promise<SagaOutcome | undefined> => {
    const steps = state.saga.steps;
    const base = () => ({ sagaId: state.id, saga: state.saga.name, at: clock.now() });
    for (;;) {
      if (state.phase === 'done') return undefined;
      if (state.phase === 'forward') {
        if (state.next >= steps.length) {
          await write(state, controller, [{ kind: 'saga-completed' }], { status: 'completed', release: true });
          emit('saga-completed', base);
          return outcomeOf(state, 'completed');
        }
        const index = state.next;
        const step = steps[index] as SagaStepDefinition;
        if (!state.intentLogged) {
          await write(state, controller, [{ kind: 'step-intent', step: step.name }]);
          state.intentLogged = true;
        }
        const result = await traceSagaStep(
          state,
          'step',
          step.name,
          () => (step.kind === 'local' ? runLocal(state, index, controller) : runRequest(state, index, controller)),
          stepOutcome,
        );
        if (result.kind === 'parked') return undefined;
        state.awaiting = undefined;
        state.reply = undefined;
        if (result.kind === 'ok') {
          state.results[step.name] = result.value;
          state.completed.push(index);
          state.next = index + 1;
          const completedEntry = { kind: 'step-completed', step: step.name, data: result.value } as const;
          const following = steps[state.next];
          if (!following) {
            await write(state, controller, [completedEntry, { kind: 'saga-completed' }], {
              status: 'completed',
              release: true,
            });
            state.phase = 'done';
            emit('saga-step-completed', () => ({ ...base(), step: step.name }));
            emit('saga-completed', base);
            return outcomeOf(state, 'completed');
          }
          await write(state, controller, [completedEntry, { kind: 'step-intent', step: following.name }]);
          state.intentLogged = true;
          emit('saga-step-completed', () => ({ ...base(), step: step.name }));
          continue;
        }
        state.phase = 'compensating';
        state.failure = result.error;
        state.failedStep = step.name;
        state.intentLogged = false;
        const failedEntry = {
          kind: 'step-failed',
          step: step.name,
          data: result.error as unknown as JsonValue,
        } as const;
        const target = nextCompensation(state);
        if (target === undefined) {
          await write(state, controller, [failedEntry, { kind: 'saga-compensated' }], {
            status: 'compensated',
            release: true,
          });
          state.phase = 'done';
          emit('saga-step-failed', () => ({ ...base(), step: step.name, error: result.error }));
          emit('saga-compensated', base);
          return outcomeOf(state, 'compensated');
        }
        const targetName = (steps[target] as SagaStepDefinition).name;
        await write(state, controller, [failedEntry, { kind: 'compensation-intent', step: targetName }], {
          status: 'compensating',
        });
        state.compensating = target;
        state.intentLogged = true;
        emit('saga-step-failed', () => ({ ...base(), step: step.name, error: result.error }));
        continue;
      }

      // Compensating: undo completed steps, latest first.
      const target = nextCompensation(state);
      if (target === undefined) {
        await write(state, controller, [{ kind: 'saga-compensated' }], { status: 'compensated', release: true });
        state.phase = 'done';
        emit('saga-compensated', base);
        return outcomeOf(state, 'compensated');
      }
      const name = (steps[target] as SagaStepDefinition).name;
      if (!(state.intentLogged && state.compensating === target)) {
        await write(state, controller, [{ kind: 'compensation-intent', step: name }]);
        state.compensating = target;
        state.intentLogged = true;
      }
      const failure = await traceSagaStep(
        state,
        'compensate',
        name,
        () => runCompensation(state, target, controller),
        compensationOutcome,
      );
      if (failure) {
        const data = failure as unknown as JsonValue;
        await write(
          state,
          controller,
          [
            { kind: 'compensation-failed', step: name, data },
            { kind: 'saga-failed', step: name, data },
          ],
          { status: 'failed', release: true },
        );
        state.phase = 'done';
        emit('saga-failed', () => ({ ...base(), step: name, error: failure }));
        return outcomeOf(state, 'failed');
      }
      state.compensated.add(target);
      state.intentLogged = false;
      const following = nextCompensation(state);
      if (following === undefined) {
        await write(state, controller, [{ kind: 'step-compensated', step: name }, { kind: 'saga-compensated' }], {
          status: 'compensated',
          release: true,
        });
        state.phase = 'done';
        emit('saga-step-compensated', () => ({ ...base(), step: name }));
        emit('saga-compensated', base);
        return outcomeOf(state, 'compensated');
      }
      const followingName = (steps[following] as SagaStepDefinition).name;
      await write(state, controller, [
        { kind: 'step-compensated', step: name },
        { kind: 'compensation-intent', step: followingName },
      ]);
      state.compensating = following;
      state.intentLogged = true;
      emit('saga-step-compensated', () => ({ ...base(), step: name }));
    }
  };

  /** Registers a driver for `sagaId`; `load` produces the state (from memory or the log). */
  const launch = (sagaId: string, sagaName: string, load: (controller: AbortController) => Promise<RunState>) => {
    const controller = new AbortController();
    const driver: Driver = { controller, done: Promise.resolve(undefined) };
    // Resumed before its deadline (a reply came): the deadline timer is re-armed if it parks again.
    const timer = wakeTimers.get(sagaId);
    if (timer !== undefined) {
      clock.clearTimeout(timer);
      wakeTimers.delete(sagaId);
    }
    driver.done = (async () => {
      try {
        const state = await load(controller);
        return await traceSagaRun(
          state,
          () => clock.now(),
          () => drive(state, controller),
        );
      } catch (error) {
        const reason = controller.signal.aborted ? controller.signal.reason : error;
        if (!(reason instanceof SagaOrchestratorClosedError))
          emit('saga-error', () => ({ sagaId, saga: sagaName, at: clock.now(), error: reason }));
        return undefined;
      } finally {
        driving.delete(sagaId);
      }
    })();
    driving.set(sagaId, driver);
    return driver;
  };

  const resumeFromLog = (
    record: SagaRecord,
    prepare?: (state: RunState, controller: AbortController) => Promise<void>,
  ): Driver => {
    const saga = sagas.get(record.name);
    return launch(record.id, record.name, async (controller) => {
      if (!saga) throw new UnknownSagaError(record.name);
      const entries = await log.history(record.id, { signal: controller.signal });
      const state = replayRun(record, saga, entries);
      emit('saga-resumed', () => ({ sagaId: record.id, saga: record.name, at: clock.now() }));
      await prepare?.(state, controller);
      return state;
    });
  };

  /** Claims one run and drives it, unless it is already driven here or held elsewhere. */
  const resume = async (sagaId: string): Promise<boolean> => {
    if (closed || driving.has(sagaId) || claiming.has(sagaId)) return false;
    claiming.add(sagaId);
    try {
      const now = clock.now();
      const record = await log.claim(sagaId, owner, { now, leaseUntil: now + leaseMs });
      if (!record) return false;
      resumeFromLog(record);
      return true;
    } finally {
      claiming.delete(sagaId);
    }
  };

  const watch = (sagaId: string, deadline: number) => {
    const previous = wakeTimers.get(sagaId);
    if (previous !== undefined) clock.clearTimeout(previous);
    const timer = clock.setTimeout(
      () => {
        wakeTimers.delete(sagaId);
        resume(sagaId).catch((error: unknown) =>
          emit('saga-error', () => ({ sagaId, saga: '', at: clock.now(), error })),
        );
      },
      Math.max(0, deadline - clock.now()),
    );
    wakeTimers.set(sagaId, timer);
  };

  // ---- replies ------------------------------------------------------------------------------

  const onReply = async (topic: string, delivery: Delivery): Promise<void> => {
    const message = delivery.message;
    const correlationId = message.headers.correlationId;
    const candidates = replyTopics.get(topic) ?? [];
    const match = correlationId
      ? candidates.find(({ step }) => correlationId.endsWith(`:${step}`) && correlationId.length > step.length + 1)
      : undefined;
    if (!match || !correlationId) return; // Not a reply to one of our commands: acked and dropped.
    const sagaId = correlationId.slice(0, correlationId.length - match.step.length - 1);
    const busy = async () => delivery.nack({ delayMs: replyRetryDelayMs });
    if (closed || driving.has(sagaId) || claiming.has(sagaId)) return busy();
    claiming.add(sagaId);
    try {
      const now = clock.now();
      const record = await log.claim(sagaId, owner, { now, leaseUntil: now + leaseMs });
      if (!record) {
        const existing = await log.get(sagaId);
        // Held by another orchestrator: try again shortly. Unknown or finished: a late reply.
        if (existing && !isTerminal(existing.status)) return busy();
        return;
      }
      let stored: JsonValue;
      try {
        stored = JSON.parse(JSON.stringify(message)) as JsonValue;
      } catch {
        stored = { id: message.id, type: message.type, payload: null, headers: {} };
      }
      let handled = false;
      let markHandled!: () => void;
      const recorded = new Promise<void>((resolve) => {
        markHandled = resolve;
      });
      const driver = resumeFromLog(record, async (state, controller) => {
        const awaiting = state.awaiting;
        if (awaiting && awaiting.correlationId === correlationId && state.reply === undefined) {
          await write(state, controller, [{ kind: 'reply-received', step: match.step, data: stored }]);
          state.reply = stored;
        }
        handled = true;
        markHandled();
      });
      // Ack once the reply is in the log (or known not to be needed), not when the run ends.
      await Promise.race([recorded, driver.done]);
      if (!handled) return busy();
    } finally {
      claiming.delete(sagaId);
    }
  };

  const subscribe = (): Promise<void> => {
    if (!transport || replyTopics.size === 0) return Promise.resolve();
    subscribing ??= (async () => {
      for (const topic of replyTopics.keys())
        subscriptions.push(await transport.subscribe(topic, replyGroup, (delivery) => onReply(topic, delivery)));
    })().catch((error: unknown) => {
      subscribing = undefined;
      throw error;
    });
    return subscribing;
  };

  // ---- loops --------------------------------------------------------------------------------

  const heartbeat = () => {
    heartbeatTimer = clock.setTimeout(async () => {
      const ids = [...driving.keys()];
      if (ids.length > 0) {
        try {
          const now = clock.now();
          const held = new Set(await log.renew(owner, ids, now + leaseMs));
          for (const id of ids) if (!held.has(id)) driving.get(id)?.controller.abort(new SagaLeaseLostError(id, owner));
        } catch (error) {
          emit('saga-error', () => ({ sagaId: '', saga: '', at: clock.now(), error }));
        }
      }
      if (!closed) heartbeat();
    }, heartbeatMs);
  };

  const recover = async (callOptions?: SagaLogCallOptions): Promise<number> => {
    if (closed) throw new SagaOrchestratorClosedError();
    await subscribe();
    const room = Math.min(recoverBatch, maxRecoveredRuns - driving.size);
    if (room <= 0) return 0;
    const now = clock.now();
    const records = await log.claimRecoverable(owner, { now, leaseUntil: now + leaseMs, limit: room }, callOptions);
    let resumed = 0;
    for (const record of records) {
      if (driving.has(record.id) || claiming.has(record.id)) continue;
      resumeFromLog(record);
      resumed += 1;
    }
    return resumed;
  };

  const recoverLoop = () => {
    if (recoverEveryMs === false) return;
    recoverTimer = clock.setTimeout(async () => {
      try {
        await recover();
      } catch (error) {
        if (!closed) emit('saga-error', () => ({ sagaId: '', saga: '', at: clock.now(), error }));
      }
      if (!closed) recoverLoop();
    }, recoverEveryMs);
  };

  heartbeat();
  recoverLoop();

  const orchestrator: SagaOrchestrator = {
    owner,

    async start(saga, input, startOptions) {
      if (closed) throw new SagaOrchestratorClosedError();
      const id = startOptions?.id;
      if (typeof id !== 'string' || id.length === 0)
        throw new InvalidOptionsError('start', ['id must be a non-empty string']);
      const registered = sagas.get(saga.name);
      if (!registered) throw new UnknownSagaError(saga.name);
      assertJson(input, `input of saga "${saga.name}"`);
      if (driving.has(id)) return { id, saga: saga.name, created: false, status: 'running' };
      await subscribe();
      const now = clock.now();
      const first = registered.steps[0];
      const trace = startSagaTrace(saga.name, id);
      const entries: NewSagaLogEntry[] = [{ at: now, kind: 'saga-started', ...sagaStartedData(trace) }];
      if (first) entries.push({ at: now, kind: 'step-intent', step: first.name });
      const { created, record } = await log.create(
        { id, name: saga.name, input, owner, leaseUntil: now + leaseMs, at: now },
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
      launch(id, saga.name, async () => state);
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

    recover,

    async idle() {
      while (driving.size > 0) await Promise.all([...driving.values()].map((driver) => driver.done));
    },

    get: (sagaId, callOptions) => log.get(sagaId, callOptions),
    history: (sagaId, callOptions) => log.history(sagaId, callOptions),
    list: (query, callOptions) => log.list(query, callOptions),
    counts: (callOptions) => log.counts(callOptions),
    purge: (query, callOptions) => log.purge(query, callOptions),

    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      const stored = listener as (event: never) => void;
      set.add(stored);
      return () => {
        set.delete(stored);
      };
    },

    snapshot: () => ({ owner, driving: driving.size, watching: wakeTimers.size, closed }),

    async close() {
      if (closed) return;
      closed = true;
      clock.clearTimeout(heartbeatTimer);
      clock.clearTimeout(recoverTimer);
      for (const timer of wakeTimers.values()) clock.clearTimeout(timer);
      wakeTimers.clear();
      const stopped = [...driving.keys()];
      for (const driver of driving.values()) driver.controller.abort(new SagaOrchestratorClosedError());
      await Promise.all([...driving.values()].map((driver) => driver.done));
      await Promise.allSettled(subscriptions.map((subscription) => subscription.close()));
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
