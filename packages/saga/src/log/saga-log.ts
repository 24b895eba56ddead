import type { JsonValue } from '../definition/json.js';

/**
 * Where a saga run stands.
 * - `running`: steps are executing (or a request step awaits its reply);
 * - `compensating`: a step failed, completed steps are being undone in reverse order;
 * - `completed`: every step succeeded;
 * - `compensated`: a step failed and every completed step was undone;
 * - `failed`: a compensation kept failing; the run needs a person's attention.
 */
export type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';

/** Every status, in lifecycle order. */
export const sagaStatuses: readonly SagaStatus[] = ['running', 'compensating', 'completed', 'compensated', 'failed'];

/** Statuses a run never leaves. */
export const terminalSagaStatuses: readonly SagaStatus[] = ['completed', 'compensated', 'failed'];

/**
 * What a log entry records. Intents are written before the work they announce and outcomes
 * after it, so a run found with an intent and no outcome is known to have been interrupted.
 */
export type SagaLogEntryKind =
  | 'saga-started'
  | 'step-intent'
  | 'step-attempt-failed'
  | 'step-completed'
  | 'step-failed'
  | 'reply-awaited'
  | 'reply-received'
  | 'compensation-intent'
  | 'compensation-attempt-failed'
  | 'step-compensated'
  | 'compensation-failed'
  | 'saga-completed'
  | 'saga-compensated'
  | 'saga-failed'
  | 'saga-resumed';

/** One line of a run's timeline, as written by the orchestrator. */
export interface NewSagaLogEntry {
  /** When it happened (the orchestrator's clock, ms since the epoch). */
  readonly at: number;
  readonly kind: SagaLogEntryKind;
  /** The step concerned, for step entries. */
  readonly step?: string;
  /** The attempt number, for attempt entries. */
  readonly attempt?: number;
  /** The step result, the recorded error, or the awaited correlation, depending on `kind`. */
  readonly data?: JsonValue;
}

/** A stored log entry: numbered 1, 2, 3… within its run, in the order written. */
export interface SagaLogEntry extends NewSagaLogEntry {
  readonly seq: number;
}

/** A saga run as stored in the log. */
export interface SagaRecord {
  readonly id: string;
  /** The saga definition's name. */
  readonly name: string;
  readonly status: SagaStatus;
  readonly input: JsonValue;
  /** The orchestrator holding the lease, or null when nobody drives the run. */
  readonly owner: string | null;
  /** The lease is held until this time (ms since the epoch); 0 when released. */
  readonly leaseUntil: number;
  /**
   * A run parked until this time (a request step waiting for its reply): recovery leaves it
   * alone until then. Null when the run may be resumed at once.
   */
  readonly wakeAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The first write of a run. */
export interface NewSagaRecord {
  readonly id: string;
  readonly name: string;
  readonly input: JsonValue;
  /** The creating orchestrator, which holds the lease at once. */
  readonly owner: string;
  readonly leaseUntil: number;
  readonly at: number;
}

/** One atomic write by the lease holder: entries appended and the run's row updated together. */
export interface SagaLogWrite {
  /** Appended in order. */
  readonly entries: readonly NewSagaLogEntry[];
  /** The new status; unchanged when omitted. */
  readonly status?: SagaStatus;
  /** The write's time, stored as `updatedAt`. */
  readonly at: number;
  /** The lease is extended to this time (writes double as heartbeats). */
  readonly leaseUntil: number;
  /** Gives the lease up: `owner` becomes null and `leaseUntil` 0. */
  readonly release?: boolean;
  /** Parks the run until this time (see {@link SagaRecord.wakeAt}); null or omitted clears it. */
  readonly wakeAt?: number | null;
}

/** Query of {@link SagaLog.list}. */
export interface SagaListQuery {
  /** Only runs in this status. */
  readonly status?: SagaStatus;
  /** @defaultValue 100 */
  readonly limit?: number;
  /** Runs to skip, for paging. @defaultValue 0 */
  readonly offset?: number;
}

/** Query of {@link SagaLog.purge}. */
export interface SagaPurgeQuery {
  /** Finished runs (`completed`, `compensated`, `failed`) last updated before this time are deleted. */
  readonly finishedBefore: number;
  /** At most this many runs per call, so a large purge does not hold locks for long. @defaultValue 1_000 */
  readonly limit?: number;
}

/** Every call of the port takes an optional signal. */
export interface SagaLogCallOptions {
  readonly signal?: AbortSignal;
}

/**
 * The saga log: the durable record of every saga run and its timeline, with the lease that
 * lets one orchestrator at a time drive a run.
 *
 * Guarantees every adapter gives (checked by `sagaLogConformance` in `@bulwark/saga/testing`):
 * - `create` is idempotent by id: it inserts the run and its first entries atomically, or
 *   changes nothing and returns the existing run;
 * - `append` is atomic (entries and row together, or nothing) and fenced: it succeeds only
 *   while `owner` holds the run's lease (even an expired one nobody took over), otherwise it
 *   throws `SagaLeaseLostError` and writes nothing;
 * - `claim` / `claimRecoverable` hand a run to at most one orchestrator: a run is free when
 *   its lease expired (`leaseUntil <= now`) or was released; terminal runs are never handed out;
 * - entries of one run are numbered 1, 2, 3… in the order written and returned in that order;
 * - times are the callers' (ms since the epoch): the log does not read its own clock, so all
 *   orchestrators sharing a log must have roughly synchronized clocks (skew eats into the lease).
 */
export interface SagaLog {
  /** Creates a run with its first entries, or returns the existing run with that id. */
  create(
    saga: NewSagaRecord,
    entries: readonly NewSagaLogEntry[],
    options?: SagaLogCallOptions,
  ): Promise<{ created: boolean; record: SagaRecord }>;
  /** Appends entries and updates the run, if `owner` holds its lease; see {@link SagaLogWrite}. */
  append(sagaId: string, owner: string, write: SagaLogWrite, options?: SagaLogCallOptions): Promise<void>;
  /**
   * Takes the lease of one run (ignoring `wakeAt`) if it is not terminal and is free or already
   * held by `owner`. Returns the run, or undefined when it is held by another or terminal.
   */
  claim(
    sagaId: string,
    owner: string,
    lease: { now: number; leaseUntil: number },
    options?: SagaLogCallOptions,
  ): Promise<SagaRecord | undefined>;
  /**
   * Takes the lease of up to `limit` non-terminal runs that are free and not parked
   * (`wakeAt` null or due), oldest update first. Safe to call from many orchestrators at once.
   */
  claimRecoverable(
    owner: string,
    query: { now: number; leaseUntil: number; limit: number },
    options?: SagaLogCallOptions,
  ): Promise<SagaRecord[]>;
  /** Extends the leases `owner` still holds among `sagaIds`; returns the ids it still holds. */
  renew(owner: string, sagaIds: readonly string[], leaseUntil: number, options?: SagaLogCallOptions): Promise<string[]>;
  get(sagaId: string, options?: SagaLogCallOptions): Promise<SagaRecord | undefined>;
  /** The run's timeline in order; empty for an unknown id. */
  history(sagaId: string, options?: SagaLogCallOptions): Promise<SagaLogEntry[]>;
  /** Runs, most recently updated first, for dashboards. */
  list(query?: SagaListQuery, options?: SagaLogCallOptions): Promise<SagaRecord[]>;
  /** How many runs are in each status. */
  counts(options?: SagaLogCallOptions): Promise<Record<SagaStatus, number>>;
  /**
   * Deletes finished runs (and their timelines) last updated before `finishedBefore`, oldest
   * first, up to `limit`; returns how many were deleted. Unfinished runs are never deleted.
   */
  purge(query: SagaPurgeQuery, options?: SagaLogCallOptions): Promise<number>;
}
