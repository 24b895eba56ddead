import { SagaOrchestratorClosedError, UnknownSagaError } from '../errors/saga-error.js';
import type { SagaRecord } from '../log/saga-log.js';
import { traceSagaRun } from '../telemetry/saga-spans.js';
import type { Driver, OrchestratorCore } from './orchestrator-core.js';
import { driveRun } from './run-loop.js';
import { type RunState, replayRun } from './run-state.js';

/** Starts, resumes and wakes the runs this orchestrator drives. */
export interface RunDrivers {
  /** Registers a driver for `sagaId`; `load` produces the state (from memory or the log). */
  launch(sagaId: string, sagaName: string, load: (controller: AbortController) => Promise<RunState>): Driver;
  /** Drives a run just claimed, from its history; `prepare` runs before the first step. */
  resumeFromLog(record: SagaRecord, prepare?: (state: RunState, controller: AbortController) => Promise<void>): Driver;
  /** Claims one run and drives it, unless it is already driven here or held elsewhere. */
  resume(sagaId: string): Promise<boolean>;
  /** Arms the timer that resumes a parked run at its reply deadline. */
  watch(sagaId: string, deadline: number): void;
}

export function runDrivers(core: OrchestratorCore): RunDrivers {
  const { clock, log, owner, driving, claiming, wakeTimers } = core;
  const { emit } = core.listeners;

  const launch: RunDrivers['launch'] = (sagaId, sagaName, load) => {
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
          () => driveRun(core, watch, state, controller),
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

  const resumeFromLog: RunDrivers['resumeFromLog'] = (record, prepare) => {
    const saga = core.sagas.get(record.name);
    return launch(record.id, record.name, async (controller) => {
      if (!saga) throw new UnknownSagaError(record.name);
      const entries = await log.history(record.id, { signal: controller.signal });
      const state = replayRun(record, saga, entries);
      emit('saga-resumed', () => ({ sagaId: record.id, saga: record.name, at: clock.now() }));
      await prepare?.(state, controller);
      return state;
    });
  };

  const resume: RunDrivers['resume'] = async (sagaId) => {
    if (core.closed || driving.has(sagaId) || claiming.has(sagaId)) return false;
    claiming.add(sagaId);
    try {
      const now = clock.now();
      const record = await log.claim(sagaId, owner, { now, leaseUntil: now + core.leaseMs });
      if (!record) return false;
      resumeFromLog(record);
      return true;
    } finally {
      claiming.delete(sagaId);
    }
  };

  const watch: RunDrivers['watch'] = (sagaId, deadline) => {
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

  return { launch, resumeFromLog, resume, watch };
}
