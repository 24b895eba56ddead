import { randomUUID } from 'node:crypto';
import type { Transport } from '@bulwark/messaging';
import { type Clock, systemClock } from '@bulwark/resilience';
import type { SagaLog } from '../log/saga-log.js';
import type { OrchestratorListeners } from './orchestrator-listeners.js';
import { type RegisteredSaga, type SagaOrchestratorOptions, sagaOrchestratorDefaults } from './orchestrator-options.js';
import type { SagaOutcome } from './saga-outcome.js';

/** A run this orchestrator drives: its abort switch and how it ends. */
export interface Driver {
  readonly controller: AbortController;
  done: Promise<SagaOutcome | undefined>;
}

/**
 * What the parts of one orchestrator share: its settings with defaults applied, the runs it
 * drives, claims or watches, and its listeners.
 */
export interface OrchestratorCore {
  readonly log: SagaLog;
  readonly transport: Transport | undefined;
  readonly clock: Clock;
  readonly owner: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly recoverEveryMs: number | false;
  readonly recoverBatch: number;
  readonly maxRecoveredRuns: number;
  readonly replyGroup: string;
  readonly replyRetryDelayMs: number;
  readonly compensationRetry: Required<NonNullable<SagaOrchestratorOptions['compensationRetry']>>;
  readonly sagas: ReadonlyMap<string, RegisteredSaga>;
  /** Runs driven here, by id. */
  readonly driving: Map<string, Driver>;
  /** Runs being claimed here right now (not yet driven). */
  readonly claiming: Set<string>;
  /** Deadline timers of runs parked on a reply, by id. */
  readonly wakeTimers: Map<string, unknown>;
  readonly listeners: OrchestratorListeners;
  closed: boolean;
}

/** Applies the defaults to validated options. */
export function orchestratorCore(options: SagaOrchestratorOptions, listeners: OrchestratorListeners): OrchestratorCore {
  const leaseMs = options.leaseMs ?? sagaOrchestratorDefaults.leaseMs;
  return {
    log: options.log,
    transport: options.transport,
    clock: options.clock ?? systemClock,
    owner: options.owner ?? randomUUID(),
    leaseMs,
    heartbeatMs: options.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3)),
    recoverEveryMs: options.recoverEveryMs ?? sagaOrchestratorDefaults.recoverEveryMs,
    recoverBatch: options.recoverBatch ?? sagaOrchestratorDefaults.recoverBatch,
    maxRecoveredRuns: options.maxRecoveredRuns ?? sagaOrchestratorDefaults.maxRecoveredRuns,
    replyGroup: options.replyGroup ?? sagaOrchestratorDefaults.replyGroup,
    replyRetryDelayMs: options.replyRetryDelayMs ?? sagaOrchestratorDefaults.replyRetryDelayMs,
    compensationRetry: { ...sagaOrchestratorDefaults.compensationRetry, ...options.compensationRetry },
    sagas: new Map(options.sagas.map((saga) => [saga.name, saga])),
    driving: new Map(),
    claiming: new Set(),
    wakeTimers: new Map(),
    listeners,
    closed: false,
  };
}
