import { type Backoff, type Clock, exponential, OptionsValidator, systemClock } from '@bulwark/resilience';
import type { EventLog, LoggedEvent } from '../event-log/event-log.js';

/** What a projection's handler is given beside its events. */
export interface ProjectionContext<Executor> {
  /**
   * The transaction the batch is applied in (PostgreSQL: the `pg` client in it; memory: `null`).
   * Write the read model through it: the checkpoint commits with those writes, so each event is
   * applied exactly once.
   */
  readonly executor: Executor;
  /**
   * The read-model table to write (`readModel.table`, or the fresh table while a rebuild fills
   * it). `undefined` when the projection has no `readModel`.
   */
  readonly table: string | undefined;
  /** Whether this batch fills a rebuild's fresh table (skip side effects that must not repeat). */
  readonly rebuilding: boolean;
  /** Aborted when the projection closes. */
  readonly signal: AbortSignal;
}

/** The table a projection keeps, so that {@link Projection.rebuild} can build a fresh one and swap. */
export interface ProjectionReadModel<Executor> {
  /** The live table (an identifier or `schema.identifier` on PostgreSQL). */
  readonly table: string;
  /**
   * Creates `table` if missing (`CREATE TABLE IF NOT EXISTS`, with its indexes named after
   * `table`). Runs when a runner takes the lead (for the live table) and when a rebuild starts
   * (for the fresh one).
   */
  create(context: { readonly executor: Executor; readonly table: string }): Promise<void>;
  /**
   * Replaces `live` by the rebuilt `fresh`, in the transaction that moves the checkpoint.
   * @defaultValue the source's: on PostgreSQL `DROP TABLE live` and `ALTER TABLE fresh RENAME TO live`
   */
  replace?(context: { readonly executor: Executor; readonly live: string; readonly fresh: string }): Promise<void>;
}

/** Options of {@link projection}. */
export interface ProjectionOptions<Executor> {
  /** Names the projection's checkpoint and lease: one active runner per name across processes. */
  readonly name: string;
  /** The event log to follow. */
  readonly source: EventLog<never, Executor>;
  /** Applies a batch of events, in log order, to the read model through `context.executor`. */
  handle(events: readonly LoggedEvent[], context: ProjectionContext<Executor>): Promise<void>;
  /** The read model's table; needed by `rebuild()`. */
  readonly readModel?: ProjectionReadModel<Executor>;
  /** Events per transaction. @defaultValue 500 */
  readonly batchSize?: number;
  /** How long a caught-up runner waits before reading again. @defaultValue 200 */
  readonly pollIntervalMs?: number;
  /** How often a standby tries to take over. @defaultValue 1_000 */
  readonly standbyIntervalMs?: number;
  /** How often the lag in events is counted (one indexed count, capped at 100,000). @defaultValue 1_000 */
  readonly lagIntervalMs?: number;
  /** Delays after a failed batch. @defaultValue exponential from 100 ms to 30 s with full jitter */
  readonly backoff?: Backoff;
  /** Uniform numbers in [0, 1) for the backoff's jitter. @defaultValue `Math.random` */
  readonly random?: () => number;
  /** Starts paused. @defaultValue false */
  readonly paused?: boolean;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** The defaults of {@link ProjectionOptions}. */
export const projectionDefaults = {
  batchSize: 500,
  pollIntervalMs: 200,
  standbyIntervalMs: 1_000,
  lagIntervalMs: 1_000,
  backoff: exponential({ initialMs: 100, maxMs: 30_000, jitter: 'full' }),
} as const;

/** Options with defaults filled in. */
export interface ResolvedProjectionOptions<Executor> extends ProjectionOptions<Executor> {
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly standbyIntervalMs: number;
  readonly lagIntervalMs: number;
  readonly backoff: Backoff;
  readonly random: () => number;
  readonly clock: Clock;
}

/** Checks every option at once; throws one `InvalidOptionsError` listing each problem. */
export function resolveProjectionOptions<Executor>(
  options: ProjectionOptions<Executor>,
): ResolvedProjectionOptions<Executor> {
  const validator = new OptionsValidator('projection');
  if (typeof options?.name !== 'string' || options.name.length === 0 || options.name.length > 200)
    validator.report(`name must be a non-empty string of at most 200 characters, got ${JSON.stringify(options?.name)}`);
  if (typeof options?.source?.projections?.tryAcquire !== 'function')
    validator.report('source must be an event log (memoryEventLog() or postgresEventLog(pool))');
  if (typeof options?.handle !== 'function') validator.report('handle must be a function (events, context) => Promise');
  if (options?.readModel !== undefined) {
    if (typeof options.readModel.table !== 'string' || options.readModel.table.length === 0)
      validator.report('readModel.table must be a non-empty string');
    if (typeof options.readModel.create !== 'function') validator.report('readModel.create must be a function');
  }
  const positive = (field: keyof typeof projectionDefaults, integer: boolean) => {
    const value = options?.[field] ?? projectionDefaults[field];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
      validator.report(`${field} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  };
  positive('batchSize', true);
  positive('pollIntervalMs', false);
  positive('standbyIntervalMs', false);
  positive('lagIntervalMs', false);
  if (options?.backoff !== undefined && typeof options.backoff.delayMs !== 'function')
    validator.report('backoff must have a delayMs(input) function (constant, linear or exponential)');
  validator.throwIfInvalid();
  return {
    ...options,
    batchSize: options.batchSize ?? projectionDefaults.batchSize,
    pollIntervalMs: options.pollIntervalMs ?? projectionDefaults.pollIntervalMs,
    standbyIntervalMs: options.standbyIntervalMs ?? projectionDefaults.standbyIntervalMs,
    lagIntervalMs: options.lagIntervalMs ?? projectionDefaults.lagIntervalMs,
    backoff: options.backoff ?? projectionDefaults.backoff,
    random: options.random ?? Math.random,
    clock: options.clock ?? systemClock,
  };
}
