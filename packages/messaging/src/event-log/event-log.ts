/**
 * An event to append to an {@link EventLog}. `data` and `headers` are stored as JSON.
 */
export interface NewEvent<Data = unknown> {
  /** The stream (aggregate, entity, key) the event belongs to, e.g. `order-42`. */
  readonly stream: string;
  /** What happened, e.g. `order.placed`. */
  readonly type: string;
  /** The event's body: any JSON value. */
  readonly data: Data;
  /** A unique id; a random UUID when left out. */
  readonly id?: string;
  /** Text metadata such as `correlationId` or `traceparent`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Where a reader stands in an {@link EventLog}: the last event it has read. Read order is
 * `transactionId`, then `position`; {@link eventLogStart} is before the first event.
 */
export interface EventLogCursor {
  /** The writing transaction's order among committed transactions (PostgreSQL: its `xid8`). */
  readonly transactionId: number;
  /** The event's global position: unique, and increasing within one transaction. */
  readonly position: number;
}

/** An event as the log stores it. */
export interface LoggedEvent<Data = unknown> extends EventLogCursor {
  readonly id: string;
  readonly stream: string;
  readonly type: string;
  readonly data: Data;
  readonly headers: Readonly<Record<string, string>>;
  /** When the event was appended, ms since the epoch. */
  readonly recordedAt: number;
}

/** The cursor before every event. */
export const eventLogStart: EventLogCursor = Object.freeze({ transactionId: 0, position: 0 });

/** Whether `left` comes before `right` in read order (negative), is the same (0) or after (positive). */
export function compareCursors(left: EventLogCursor, right: EventLogCursor): number {
  return left.transactionId - right.transactionId || left.position - right.position;
}

/** Options of {@link EventLog.read}. */
export interface EventLogReadOptions {
  /** Read the events after this one. @defaultValue {@link eventLogStart} */
  readonly after?: EventLogCursor;
  /** At most this many events. @defaultValue 100 */
  readonly limit?: number;
  /** Only events of these types. */
  readonly types?: readonly string[];
  readonly signal?: AbortSignal;
}

/** Options of {@link EventLog.readStream}. */
export interface EventLogStreamReadOptions {
  /** Read the events after this position. @defaultValue 0 */
  readonly afterPosition?: number;
  /** @defaultValue 100 */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

/** What {@link EventLog.prune} removes: events read before `before`, and/or recorded over `olderThanMs` ago. */
export interface EventLogPruneOptions {
  /** Remove the events at or before this cursor (a checkpoint every reader has passed). */
  readonly before?: EventLogCursor;
  /** Remove the events recorded more than this many ms ago. */
  readonly olderThanMs?: number;
  readonly signal?: AbortSignal;
}

/** How far the unread part of the log reaches after a cursor, from {@link EventLog.lag}. */
export interface EventLogLag {
  /** Committed events after the cursor (counted up to `limit`). */
  readonly events: number;
  /** Age in ms of the oldest of them; 0 when there is none. */
  readonly oldestAgeMs: number;
}

/**
 * An append-only log of events with global positions, written in the caller's transaction.
 *
 * **Guarantee**: {@link EventLog.read} returns events in one total order (`transactionId`, then
 * `position`) and never returns an event before one that comes earlier in that order: a reader
 * that has passed a cursor never misses an event that commits later. An event is readable only
 * once every transaction that could still place an event before it has ended. So a reader that
 * keeps its last cursor and reads after it sees every committed event exactly once, in order.
 * Events of a transaction that rolled back are never seen.
 *
 * @typeParam Executor - how `append` reaches the caller's transaction.
 * @typeParam HandlerExecutor - the transaction a projection's handler writes its read model through.
 */
export interface EventLog<Executor, HandlerExecutor = Executor> {
  /** The log's name in events and errors (its table on PostgreSQL). */
  readonly name: string;
  /**
   * Appends events in the caller's transaction (`executor`): readable after it commits, never
   * if it rolls back. Events of one call keep their order. Invalid events throw
   * `InvalidMessagingValueError` before anything is written.
   */
  append(executor: Executor, events: NewEvent | readonly NewEvent[], options?: { signal?: AbortSignal }): Promise<void>;
  /** Reads committed events after `after` in log order (see the guarantee above). */
  read(options?: EventLogReadOptions): Promise<LoggedEvent[]>;
  /** Reads one stream's committed events in position order. */
  readStream(stream: string, options?: EventLogStreamReadOptions): Promise<LoggedEvent[]>;
  /** The cursor of the last readable event ({@link eventLogStart} when the log is empty). */
  head(options?: { signal?: AbortSignal }): Promise<EventLogCursor>;
  /** Counts readable events after `after` (up to `limit`, default 100_000) and the oldest one's age. */
  lag(after: EventLogCursor, options?: { limit?: number; signal?: AbortSignal }): Promise<EventLogLag>;
  /** Retention: deletes old events; returns how many. Readers behind `before` would miss them. */
  prune(options: EventLogPruneOptions): Promise<number>;
  /** The store that keeps projections' checkpoints and leadership beside this log. */
  readonly projections: ProjectionStore<HandlerExecutor>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * What a projection runner needs from the log's backend: leadership across processes and
 * transactions in which the read-model write and the checkpoint commit together.
 *
 * @typeParam Executor - the transaction handed to the projection's handler.
 */
export interface ProjectionStore<Executor> {
  /**
   * Tries to become the one runner of projection `name`. Resolves `undefined` when another
   * runner holds it. A lease ends with `release()` or when its holder dies (on PostgreSQL its
   * connection ends, which hands the projection to a standby).
   */
  tryAcquire(name: string, options?: { signal?: AbortSignal }): Promise<ProjectionLease<Executor> | undefined>;
}

/** Leadership of one projection; see {@link ProjectionStore}. */
export interface ProjectionLease<Executor> {
  /** Settles when the lease was lost without `release()` (e.g. the connection failed). */
  readonly lost: Promise<unknown>;
  /** Runs `work` in one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (transaction: ProjectionTransaction<Executor>) => Promise<T>): Promise<T>;
  release(): Promise<void>;
}

/** One transaction of a {@link ProjectionLease}. */
export interface ProjectionTransaction<Executor> {
  /** The transaction, for the read-model writes. */
  readonly executor: Executor;
  /** The stored checkpoint of `name` ({@link eventLogStart} when none). */
  checkpoint(name: string): Promise<EventLogCursor>;
  /** Stores the checkpoint of `name`, committed with the read-model writes. */
  saveCheckpoint(name: string, cursor: EventLogCursor): Promise<void>;
  deleteCheckpoint(name: string): Promise<void>;
  /** Reads readable events after `after` (as {@link EventLog.read}). */
  read(after: EventLogCursor, limit: number): Promise<LoggedEvent[]>;
  /**
   * Replaces table `live` by table `fresh` (a rebuilt read model): `live` is dropped and `fresh`
   * renamed to it. Backends without tables throw; give the projection's `readModel.replace`.
   */
  replaceTable(live: string, fresh: string): Promise<void>;
  /** Drops table `table` if it exists (a rebuild's leftover). */
  dropTable(table: string): Promise<void>;
}
