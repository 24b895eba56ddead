import { delay, type EventSubscription, NamedEventEmitter } from '@bulwark/resilience';
import { MessagingError } from '../errors/messaging-error.js';
import type { EventLogCursor, LoggedEvent, ProjectionLease, ProjectionTransaction } from '../event-log/event-log.js';
import { observeProjection } from '../telemetry/projection-metrics.js';
import type { ProjectionEvents } from './projection-events.js';
import {
  type ProjectionOptions,
  type ResolvedProjectionOptions,
  resolveProjectionOptions,
} from './projection-options.js';

/** Whether a runner applies events (`running`), waits to take over (`standby`), is paused, or has stopped. */
export type ProjectionState = 'standby' | 'running' | 'paused' | 'closed';

/** A point-in-time view of a projection runner, for dashboards and health checks. */
export interface ProjectionSnapshot {
  readonly name: string;
  readonly state: ProjectionState;
  /** Whether a rebuild is filling a fresh table. */
  readonly rebuilding: boolean;
  /** The last checkpoint this runner stored or read; `undefined` before it first led. */
  readonly checkpoint: EventLogCursor | undefined;
  /** Events this runner applied since it started (rebuilds included). */
  readonly applied: number;
  /** Readable events not applied yet (counted every `lagIntervalMs`, up to 100,000); `undefined` on a standby. */
  readonly lagEvents: number | undefined;
  /** Age in ms of the oldest readable event not applied yet; 0 when caught up; `undefined` on a standby. */
  readonly lagMs: number | undefined;
  /** Failed batches since start (each is retried). */
  readonly failures: number;
  /** The last error, while the runner is retrying. */
  readonly lastError: unknown;
}

/** A running projection; see {@link projection}. */
export interface Projection {
  readonly name: string;
  snapshot(): ProjectionSnapshot;
  /** Listens to an event; returns a function that removes the listener. */
  on<Name extends keyof ProjectionEvents>(
    name: Name,
    listener: (event: ProjectionEvents[Name]) => void,
  ): EventSubscription;
  /** Stops applying events after the batch in progress (the lease is kept). */
  pause(): void;
  resume(): void;
  /**
   * Rebuilds the read model: a fresh table (`<table>_rebuild`) is created and filled from the
   * start of the log while the live table keeps being updated; once it has caught up, it
   * replaces the live table and takes over its checkpoint in one transaction. Resolves when the
   * swap committed. Only the runner that leads rebuilds; on a standby it waits until it leads.
   * Needs `readModel`.
   */
  rebuild(options?: { signal?: AbortSignal }): Promise<void>;
  /** Stops after the batch in progress and gives the lease up. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface RebuildRequest {
  resolve(): void;
  reject(error: unknown): void;
  startedAt?: number;
  events: number;
}

const lagLimit = 100_000;

/**
 * Keeps a read model up to date from an event log. The runner applies events in batches, in log
 * order; on PostgreSQL each batch, the handler's read-model writes and the new checkpoint commit
 * in one transaction, so every event is applied exactly once, across crashes and restarts (a
 * batch cut short by a crash is rolled back and applied again by the next runner). One runner
 * leads per projection name across processes (a session advisory lock on PostgreSQL); the
 * others wait as standbys and one takes over within `standbyIntervalMs` when the leader's
 * connection ends, a killed process included. A failed batch is retried after a backoff; it
 * holds the projection back until it passes.
 *
 * @example
 * ```ts
 * const orderHistory = projection({
 *   name: 'order-history',
 *   source: postgresEventLog(pool),
 *   readModel: {
 *     table: 'order_history',
 *     create: ({ executor, table }) =>
 *       executor.query(`CREATE TABLE IF NOT EXISTS ${table} (order_id text PRIMARY KEY, status text NOT NULL)`),
 *   },
 *   async handle(events, { executor, table }) {
 *     for (const event of events)
 *       await executor.query(
 *         `INSERT INTO ${table} (order_id, status) VALUES ($1, $2) ON CONFLICT (order_id) DO UPDATE SET status = $2`,
 *         [event.stream, event.type],
 *       );
 *   },
 * });
 * ```
 */
export function projection<Executor>(options: ProjectionOptions<Executor>): Projection {
  const resolved = resolveProjectionOptions(options);
  const runner = new ProjectionRunner(resolved);
  return observeProjection(runner.start());
}

class ProjectionRunner<Executor> {
  readonly #options: ResolvedProjectionOptions<Executor>;
  readonly #emitter = new NamedEventEmitter<ProjectionEvents>();
  readonly #closing = new AbortController();
  #wake = new AbortController();
  #lease: ProjectionLease<Executor> | undefined;
  #leaseLost = false;
  #paused: boolean;
  #closed = false;
  #loop: Promise<void> = Promise.resolve();
  #checkpoint: EventLogCursor | undefined;
  #applied = 0;
  #failures = 0;
  #consecutiveFailures = 0;
  #previousRetryMs = 0;
  #lastError: unknown;
  #lag: { events: number; oldestAgeMs: number; measuredAt: number } | undefined;
  #rebuild: RebuildRequest | undefined;
  #rebuildStarted = false;

  constructor(options: ResolvedProjectionOptions<Executor>) {
    this.#options = options;
    this.#paused = options.paused === true;
  }

  get #rebuildCheckpoint() {
    return `${this.#options.name}#rebuild`;
  }

  get #freshTable() {
    return `${this.#options.readModel?.table}_rebuild`;
  }

  start(): Projection {
    this.#loop = this.#run();
    const runner = this;
    const api: Projection = {
      name: this.#options.name,
      snapshot: () => this.#snapshot(),
      on: (name, listener) => this.#emitter.on(name, listener),
      pause() {
        if (runner.#paused || runner.#closed) return;
        runner.#paused = true;
        runner.#emitter.emit('projection-paused', { projection: runner.#options.name });
      },
      resume() {
        if (!runner.#paused || runner.#closed) return;
        runner.#paused = false;
        runner.#emitter.emit('projection-resumed', { projection: runner.#options.name });
        runner.#wakeUp();
      },
      rebuild: (rebuildOptions) => this.#requestRebuild(rebuildOptions?.signal),
      close: () => this.#close(),
      [Symbol.asyncDispose]: () => this.#close(),
    };
    return api;
  }

  #snapshot(): ProjectionSnapshot {
    const leading = this.#lease !== undefined;
    const state: ProjectionState = this.#closed ? 'closed' : !leading ? 'standby' : this.#paused ? 'paused' : 'running';
    const lag = leading ? this.#lag : undefined;
    return {
      name: this.#options.name,
      state,
      rebuilding: this.#rebuildStarted,
      checkpoint: this.#checkpoint,
      applied: this.#applied,
      lagEvents: lag?.events,
      // The oldest unapplied event has aged since it was measured, unless there was none.
      lagMs:
        lag === undefined
          ? undefined
          : lag.events === 0
            ? 0
            : lag.oldestAgeMs + (this.#options.clock.now() - lag.measuredAt),
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  #wakeUp() {
    this.#wake.abort();
  }

  /** Waits `ms`, or less when woken (resume, rebuild, close). */
  async #sleep(ms: number) {
    if (this.#wake.signal.aborted) {
      // Woken while busy: go round again at once.
      this.#wake = new AbortController();
      return;
    }
    const signal = AbortSignal.any([this.#wake.signal, this.#closing.signal]);
    await delay(this.#options.clock, ms, signal).catch(() => {});
  }

  #requestRebuild(signal?: AbortSignal): Promise<void> {
    if (this.#closed)
      return Promise.reject(new MessagingError('PROJECTION_CLOSED', `The projection ${this.#options.name} is closed`));
    if (!this.#options.readModel)
      return Promise.reject(
        new MessagingError(
          'PROJECTION_NO_READ_MODEL',
          `The projection ${this.#options.name} has no readModel to rebuild`,
        ),
      );
    if (this.#rebuild)
      return Promise.reject(
        new MessagingError('PROJECTION_REBUILD_RUNNING', `The projection ${this.#options.name} is already rebuilding`),
      );
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (this.#rebuild === request && !this.#rebuildStarted) this.#rebuild = undefined;
        reject(signal?.reason);
      };
      const request: RebuildRequest = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
        events: 0,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#rebuild = request;
      this.#wakeUp();
    });
  }

  async #close() {
    if (this.#closed) return this.#loop;
    this.#closed = true;
    this.#closing.abort(new MessagingError('PROJECTION_CLOSED', `The projection ${this.#options.name} is closed`));
    await this.#loop;
    this.#rebuild?.reject(
      new MessagingError(
        'PROJECTION_CLOSED',
        `The projection ${this.#options.name} closed before its rebuild finished`,
      ),
    );
    this.#rebuild = undefined;
  }

  async #run() {
    const { clock } = this.#options;
    while (!this.#closed) {
      try {
        if (!this.#lease) {
          if (!(await this.#acquire())) {
            await this.#sleep(this.#options.standbyIntervalMs);
            continue;
          }
        }
        if (this.#paused) {
          await this.#sleep(this.#options.pollIntervalMs * 10);
          continue;
        }
        let applied = await this.#applyBatch(this.#options.name, this.#options.readModel?.table, false);
        if (this.#rebuild) applied += await this.#rebuildStep();
        if (this.#lag === undefined || clock.now() - this.#lag.measuredAt >= this.#options.lagIntervalMs)
          await this.#measureLag();
        this.#consecutiveFailures = 0;
        this.#lastError = undefined;
        if (applied === 0) await this.#sleep(this.#options.pollIntervalMs);
      } catch (error) {
        if (this.#closed) break;
        await this.#fail(error);
      }
    }
    await this.#releaseLease();
  }

  async #acquire(): Promise<boolean> {
    const lease = await this.#options.source.projections.tryAcquire(this.#options.name, {
      signal: this.#closing.signal,
    });
    if (!lease) return false;
    this.#lease = lease;
    this.#leaseLost = false;
    this.#lag = undefined;
    lease.lost.then(
      () => {
        if (this.#lease === lease) this.#leaseLost = true;
      },
      () => {},
    );
    this.#emitter.emit('projection-leadership-acquired', { projection: this.#options.name });
    const { readModel, name } = this.#options;
    this.#checkpoint = await lease.transaction(async (transaction) => {
      if (readModel) await readModel.create({ executor: transaction.executor, table: readModel.table });
      return transaction.checkpoint(name);
    });
    return true;
  }

  async #releaseLease(error?: unknown) {
    const lease = this.#lease;
    if (!lease) return;
    this.#lease = undefined;
    this.#rebuildStarted = false;
    await lease.release().catch(() => {});
    this.#emitter.emit('projection-leadership-released', { projection: this.#options.name, error });
  }

  async #fail(error: unknown) {
    this.#failures++;
    this.#consecutiveFailures++;
    this.#lastError = error;
    const retryInMs = Math.max(
      0,
      this.#options.backoff.delayMs({
        attempt: this.#consecutiveFailures,
        previousDelayMs: this.#consecutiveFailures <= 1 ? 0 : this.#previousRetryMs,
        random: this.#options.random,
      }),
    );
    this.#previousRetryMs = retryInMs;
    this.#emitter.emit('projection-failed', { projection: this.#options.name, error, retryInMs });
    // A lost lease (its connection ended) is given up; a standby may take over while we wait.
    if (this.#leaseLost) await this.#releaseLease(error);
    await this.#sleep(retryInMs);
  }

  /** Applies one batch after checkpoint `checkpointName` into `table`; returns how many events. */
  async #applyBatch(checkpointName: string, table: string | undefined, rebuilding: boolean): Promise<number> {
    const lease = this.#requireLease();
    const { clock, batchSize, handle } = this.#options;
    const startedAt = clock.now();
    const outcome = await lease.transaction(async (transaction) => {
      const after = await transaction.checkpoint(checkpointName);
      const events = await transaction.read(after, batchSize);
      const last = events[events.length - 1];
      if (!last) return { events, checkpoint: after };
      await handle(events, { executor: transaction.executor, table, rebuilding, signal: this.#closing.signal });
      const checkpoint = { transactionId: last.transactionId, position: last.position };
      await transaction.saveCheckpoint(checkpointName, checkpoint);
      return { events, checkpoint };
    });
    this.#applied += outcome.events.length;
    if (!rebuilding) this.#checkpoint = outcome.checkpoint;
    this.#afterBatch(outcome.events, outcome.checkpoint, startedAt, rebuilding);
    return outcome.events.length;
  }

  #afterBatch(events: readonly LoggedEvent[], checkpoint: EventLogCursor, startedAt: number, rebuilding: boolean) {
    const first = events[0];
    if (!first) return;
    const now = this.#options.clock.now();
    if (!rebuilding && events.length < this.#options.batchSize)
      // A short batch read everything readable: caught up as of now.
      this.#lag = { events: 0, oldestAgeMs: 0, measuredAt: now };
    this.#emitter.emit('projection-batch-applied', () => ({
      projection: this.#options.name,
      count: events.length,
      checkpoint,
      durationMs: now - startedAt,
      lagMs: Math.max(0, now - first.recordedAt),
      rebuilding,
    }));
  }

  async #measureLag() {
    const after = this.#checkpoint;
    if (!after) return;
    const lag = await this.#options.source.lag(after, { limit: lagLimit, signal: this.#closing.signal });
    this.#lag = { events: lag.events, oldestAgeMs: lag.oldestAgeMs, measuredAt: this.#options.clock.now() };
  }

  #requireLease(): ProjectionLease<Executor> {
    if (!this.#lease || this.#leaseLost)
      throw new MessagingError('PROJECTION_LEASE_LOST', `The projection ${this.#options.name} lost its lease`);
    return this.#lease;
  }

  /** One step of a rebuild: start it, fill the fresh table by a batch, or swap when it caught up. */
  async #rebuildStep(): Promise<number> {
    const request = this.#rebuild;
    const readModel = this.#options.readModel;
    if (!request || !readModel) return 0;
    const lease = this.#requireLease();
    const fresh = this.#freshTable;
    if (!this.#rebuildStarted) {
      await lease.transaction(async (transaction) => {
        // A leftover of a rebuild that did not finish (its runner died) is started over.
        await transaction.dropTable(fresh);
        await readModel.create({ executor: transaction.executor, table: fresh });
        await transaction.deleteCheckpoint(this.#rebuildCheckpoint);
      });
      this.#rebuildStarted = true;
      request.startedAt = this.#options.clock.now();
      this.#emitter.emit('projection-rebuild-started', { projection: this.#options.name, table: fresh });
    }
    const applied = await this.#applyBatch(this.#rebuildCheckpoint, fresh, true);
    request.events += applied;
    if (applied === this.#options.batchSize) return applied;
    // Caught up with what is readable: apply whatever arrived since, then swap, in one transaction.
    const swapped = await lease.transaction(async (transaction) => {
      const checkpoint = await this.#drain(transaction, fresh, request);
      if (readModel.replace) await readModel.replace({ executor: transaction.executor, live: readModel.table, fresh });
      else await transaction.replaceTable(readModel.table, fresh);
      await transaction.saveCheckpoint(this.#options.name, checkpoint);
      await transaction.deleteCheckpoint(this.#rebuildCheckpoint);
      return checkpoint;
    });
    this.#checkpoint = swapped;
    this.#rebuildStarted = false;
    this.#rebuild = undefined;
    this.#emitter.emit('projection-rebuilt', {
      projection: this.#options.name,
      durationMs: this.#options.clock.now() - (request.startedAt ?? this.#options.clock.now()),
      events: request.events,
    });
    request.resolve();
    return applied;
  }

  async #drain(transaction: ProjectionTransaction<Executor>, fresh: string, request: RebuildRequest) {
    let checkpoint = await transaction.checkpoint(this.#rebuildCheckpoint);
    for (;;) {
      const events = await transaction.read(checkpoint, this.#options.batchSize);
      const last = events[events.length - 1];
      if (!last) return checkpoint;
      await this.#options.handle(events, {
        executor: transaction.executor,
        table: fresh,
        rebuilding: true,
        signal: this.#closing.signal,
      });
      request.events += events.length;
      this.#applied += events.length;
      checkpoint = { transactionId: last.transactionId, position: last.position };
    }
  }
}
