import { type Clock, systemClock } from '@bulwark/resilience';
import { MessagingError } from '../errors/messaging-error.js';
import {
  compareCursors,
  type EventLog,
  type EventLogCursor,
  eventLogStart,
  type LoggedEvent,
  type ProjectionLease,
  type ProjectionStore,
  type ProjectionTransaction,
} from './event-log.js';
import { type CheckedEvent, checkCursor, checkEvents, checkLimit, checkPrune } from './event-log-values.js';

/**
 * A transaction of a {@link MemoryEventLog}, from {@link MemoryEventLog.begin}: what is appended
 * through it becomes readable at `commit()`, and never after `rollback()`.
 */
export interface MemoryEventLogTransaction {
  commit(): void;
  rollback(): void;
}

/**
 * How {@link MemoryEventLog.append} reaches a transaction: one from `begin()`, or `null` to
 * commit at once. It is also what a projection's handler receives as `executor` (`null`).
 */
export type MemoryEventLogExecutor = MemoryEventLogTransaction | null;

/** Options of {@link memoryEventLog}. */
export interface MemoryEventLogOptions {
  /** The name in events and errors. @defaultValue `'memory'` */
  name?: string;
  /** Stamps `recordedAt`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The in-memory {@link EventLog}: the reference implementation, for tests and single processes. */
export interface MemoryEventLog extends EventLog<MemoryEventLogExecutor> {
  /** Starts a transaction to append through; see {@link MemoryEventLogTransaction}. */
  begin(): MemoryEventLogTransaction;
}

/**
 * An {@link EventLog} in memory. Positions and transaction ids are given at commit, so read order
 * is commit order. Projections over it keep their checkpoints here too; their read-model writes
 * live wherever the handler puts them, so a handler that throws part-way is not rolled back.
 *
 * @example
 * ```ts
 * const log = memoryEventLog();
 * await log.append(null, { stream: 'order-1', type: 'order.placed', data: { total: 30 } });
 * const events = await log.read({ after: eventLogStart });
 * ```
 */
export function memoryEventLog(options: MemoryEventLogOptions = {}): MemoryEventLog {
  const clock = options.clock ?? systemClock;
  const name = options.name ?? 'memory';
  let events: LoggedEvent[] = [];
  let lastTransactionId = 0;
  let lastPosition = 0;
  let closed = false;
  const checkpoints = new Map<string, EventLogCursor>();
  const leaders = new Set<string>();

  const assertOpen = () => {
    if (closed) throw new MessagingError('EVENT_LOG_CLOSED', `The event log ${name} is closed`);
  };
  const commitEvents = (pending: readonly CheckedEvent[]) => {
    if (pending.length === 0) return;
    const transactionId = ++lastTransactionId;
    const recordedAt = clock.now();
    for (const event of pending)
      events.push({ ...structuredClone(event), transactionId, position: ++lastPosition, recordedAt });
  };
  const readAfter = (after: EventLogCursor, limit: number, types?: readonly string[]) => {
    const selected: LoggedEvent[] = [];
    for (const event of events) {
      if (selected.length >= limit) break;
      if (compareCursors(event, after) <= 0) continue;
      if (types && !types.includes(event.type)) continue;
      selected.push(structuredClone(event));
    }
    return selected;
  };
  const pendingOf = new WeakMap<MemoryEventLogTransaction, CheckedEvent[]>();

  const projections: ProjectionStore<MemoryEventLogExecutor> = {
    async tryAcquire(projection, acquireOptions) {
      acquireOptions?.signal?.throwIfAborted();
      assertOpen();
      if (leaders.has(projection)) return undefined;
      leaders.add(projection);
      let released = false;
      const lease: ProjectionLease<MemoryEventLogExecutor> = {
        lost: new Promise<unknown>(() => {}),
        async transaction(work) {
          if (released) throw new MessagingError('PROJECTION_LEASE_LOST', `The lease of ${projection} ended`);
          const staged = new Map<string, EventLogCursor | undefined>();
          const transaction: ProjectionTransaction<MemoryEventLogExecutor> = {
            executor: null,
            async checkpoint(checkpointName) {
              return staged.has(checkpointName)
                ? (staged.get(checkpointName) ?? eventLogStart)
                : (checkpoints.get(checkpointName) ?? eventLogStart);
            },
            async saveCheckpoint(checkpointName, cursor) {
              staged.set(checkpointName, { transactionId: cursor.transactionId, position: cursor.position });
            },
            async deleteCheckpoint(checkpointName) {
              staged.set(checkpointName, undefined);
            },
            async read(after, limit) {
              return readAfter(after, limit);
            },
            async replaceTable() {
              throw new MessagingError(
                'EVENT_LOG_NO_TABLES',
                'The memory event log has no tables: give the projection a readModel.replace',
              );
            },
            async dropTable() {},
          };
          const result = await work(transaction);
          for (const [checkpointName, cursor] of staged) {
            if (cursor === undefined) checkpoints.delete(checkpointName);
            else checkpoints.set(checkpointName, cursor);
          }
          return result;
        },
        async release() {
          if (released) return;
          released = true;
          leaders.delete(projection);
        },
      };
      return lease;
    },
  };

  const log: MemoryEventLog = {
    name,
    projections,
    begin() {
      assertOpen();
      const pending: CheckedEvent[] = [];
      let ended = false;
      const transaction: MemoryEventLogTransaction = {
        commit() {
          if (ended) throw new MessagingError('EVENT_LOG_TRANSACTION_ENDED', 'This transaction already ended');
          ended = true;
          commitEvents(pending);
        },
        rollback() {
          ended = true;
        },
      };
      pendingOf.set(transaction, pending);
      return transaction;
    },
    async append(executor, given, appendOptions) {
      appendOptions?.signal?.throwIfAborted();
      assertOpen();
      const checked = checkEvents(given);
      if (executor === null) {
        commitEvents(checked);
        return;
      }
      const pending = pendingOf.get(executor);
      if (!pending)
        throw new MessagingError('EVENT_LOG_TRANSACTION_UNKNOWN', 'Append through a transaction from begin(), or null');
      pending.push(...checked);
    },
    async read(readOptions = {}) {
      readOptions.signal?.throwIfAborted();
      const after = checkCursor('after', readOptions.after ?? eventLogStart);
      return readAfter(after, checkLimit(readOptions.limit, 100), readOptions.types);
    },
    async readStream(stream, readOptions = {}) {
      readOptions.signal?.throwIfAborted();
      const afterPosition = readOptions.afterPosition ?? 0;
      const limit = checkLimit(readOptions.limit, 100);
      return events
        .filter((event) => event.stream === stream && event.position > afterPosition)
        .sort((left, right) => left.position - right.position)
        .slice(0, limit)
        .map((event) => structuredClone(event));
    },
    async head() {
      const last = events[events.length - 1];
      return last ? { transactionId: last.transactionId, position: last.position } : eventLogStart;
    },
    async lag(after, lagOptions = {}) {
      checkCursor('after', after);
      const limit = checkLimit(lagOptions.limit, 100_000);
      const unread = readAfter(after, limit);
      const oldest = unread[0];
      return { events: unread.length, oldestAgeMs: oldest ? Math.max(0, clock.now() - oldest.recordedAt) : 0 };
    },
    async prune(pruneOptions) {
      pruneOptions.signal?.throwIfAborted();
      checkPrune(pruneOptions);
      const before = pruneOptions.before;
      const cutoff = pruneOptions.olderThanMs === undefined ? undefined : clock.now() - pruneOptions.olderThanMs;
      const kept = events.filter(
        (event) =>
          !(before && compareCursors(event, before) <= 0) && !(cutoff !== undefined && event.recordedAt < cutoff),
      );
      const removed = events.length - kept.length;
      events = kept;
      return removed;
    },
    async close() {
      closed = true;
    },
    [Symbol.asyncDispose]() {
      return log.close();
    },
  };
  return log;
}
