import { type Clock, OptionsValidator, systemClock } from '@bulwark/resilience';
import { withClient } from '@bulwark/resilience/postgres';
import type { Pool, PoolClient, QueryConfig, QueryResultRow } from 'pg';
import { MessagingError } from '../errors/messaging-error.js';
import {
  type EventLog,
  type EventLogCursor,
  eventLogStart,
  type LoggedEvent,
  type ProjectionLease,
  type ProjectionStore,
  type ProjectionTransaction,
} from '../event-log/event-log.js';
import { checkCursor, checkEvents, checkLimit, checkPrune } from '../event-log/event-log-values.js';
import type { PostgresOutboxExecutor } from './postgres-outbox.js';
import { checkQueryTimeout, defaultQueryTimeoutMs, statementRunner } from './postgres-store-error.js';
import appendTemplate from './sql/event-log-append.sql';
import checkpointDeleteTemplate from './sql/event-log-checkpoint-delete.sql';
import checkpointGetTemplate from './sql/event-log-checkpoint-get.sql';
import checkpointSaveTemplate from './sql/event-log-checkpoint-save.sql';
import headTemplate from './sql/event-log-head.sql';
import lagTemplate from './sql/event-log-lag.sql';
import migrateTemplate from './sql/event-log-migrate.sql';
import pruneTemplate from './sql/event-log-prune.sql';
import readTemplate from './sql/event-log-read.sql';
import readStreamTemplate from './sql/event-log-read-stream.sql';
import tryLockTemplate from './sql/event-log-try-lock.sql';
import unlockTemplate from './sql/event-log-unlock.sql';
import { tableName } from './table-name.js';

/** Options of {@link postgresEventLog}. */
export interface PostgresEventLogOptions {
  /**
   * The event table (an identifier or `schema.identifier`). Its indexes and its checkpoint table
   * (`<table>_checkpoints`) are named after it.
   * @defaultValue `'bulwark_events'`
   */
  table?: string;
  /**
   * The longest one statement of the log may take, taking a pool connection included; past it
   * the call rejects with `PostgresStoreError` (`POSTGRES_TIMEOUT`).
   * @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** Times `queryTimeoutMs`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link PostgresEventLogOptions}. */
export const postgresEventLogDefaults = { table: 'bulwark_events', queryTimeoutMs: defaultQueryTimeoutMs } as const;

/**
 * How {@link PostgresEventLog.append} reaches the caller's transaction: the `pg` client on which
 * the caller ran `BEGIN`, or a function that runs one parameterized statement in it (as the outbox's).
 */
export type PostgresEventLogExecutor = PostgresOutboxExecutor;

/** The SQL of one event log, placeholders filled in. Exported for teams with their own migration tool. */
export interface PostgresEventLogSql {
  /** Creates the event table, its indexes and the checkpoint table if missing; safe at every start. */
  readonly migrate: string;
  readonly append: string;
  readonly read: string;
  readonly readStream: string;
  readonly head: string;
  readonly lag: string;
  readonly prune: string;
  readonly checkpointGet: string;
  readonly checkpointSave: string;
  readonly checkpointDelete: string;
  readonly tryLock: string;
  readonly unlock: string;
  /** The quoted, qualified event table. */
  readonly table: string;
  /** The quoted, qualified checkpoint table. */
  readonly checkpoints: string;
}

/** The PostgreSQL {@link EventLog}; see {@link postgresEventLog}. */
export interface PostgresEventLog extends EventLog<PostgresEventLogExecutor, PoolClient> {
  readonly sql: PostgresEventLogSql;
  /** Creates the tables and indexes if missing. Safe to run at every start, concurrently. */
  migrate(options?: { signal?: AbortSignal }): Promise<void>;
}

/** Renders the event log's SQL for a table; `postgresEventLog(pool, options).sql` returns the same. */
export function postgresEventLogSql(options: Pick<PostgresEventLogOptions, 'table'> = {}): PostgresEventLogSql {
  const table = tableName('postgresEventLog', options.table ?? postgresEventLogDefaults.table);
  const schemaPrefix = table.quoted.slice(0, table.quoted.length - `"${table.name}"`.length);
  const checkpoints = `${schemaPrefix}"${table.name}_checkpoints"`;
  const values: Record<string, string> = {
    table: table.quoted,
    checkpoints,
    readIndex: `"${table.name}_read_idx"`,
    streamIndex: `"${table.name}_stream_idx"`,
  };
  const render = (template: string) =>
    template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => values[name] ?? placeholder);
  return {
    migrate: render(migrateTemplate),
    append: render(appendTemplate),
    read: render(readTemplate),
    readStream: render(readStreamTemplate),
    head: render(headTemplate),
    lag: render(lagTemplate),
    prune: render(pruneTemplate),
    checkpointGet: render(checkpointGetTemplate),
    checkpointSave: render(checkpointSaveTemplate),
    checkpointDelete: render(checkpointDeleteTemplate),
    tryLock: render(tryLockTemplate),
    unlock: render(unlockTemplate),
    table: table.quoted,
    checkpoints,
  };
}

interface EventRow {
  position: string;
  /** Aliased apart from the column: ORDER BY would otherwise sort by the text, not the xid8. */
  transaction_id_text: string;
  id: string;
  stream: string;
  type: string;
  data: unknown;
  headers: Record<string, string>;
  recorded_at_ms: number;
}

const toEvent = (row: EventRow): LoggedEvent => ({
  transactionId: Number(row.transaction_id_text),
  position: Number(row.position),
  id: row.id,
  stream: row.stream,
  type: row.type,
  data: row.data,
  headers: row.headers,
  recordedAt: Math.round(row.recorded_at_ms),
});

const cursorValues = (cursor: EventLogCursor) => [String(cursor.transactionId), cursor.position];

/**
 * An append-only event log in a PostgreSQL table, written in the caller's transaction.
 *
 * **How readers never skip an event that commits late.** Every event row carries its writer's
 * transaction id (`xid8`, from `pg_current_xact_id()`) beside its global `position` (an identity
 * sequence). Readers read in (`transactionId`, `position`) order and only the rows whose
 * transaction id is below `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still
 * running in the cluster: every transaction below it has ended, and every transaction that starts
 * later gets a higher id, so nothing can appear behind a cursor a reader has passed. This is the
 * approach of Emmett and Marten's async daemon. Writers never wait for each other (a
 * commit-ordered sequence under an advisory lock would serialize every appending transaction
 * from its append to its commit: 180 appends/s against 735 without it, 8 writers on a 2-core
 * machine, `pnpm bench event-log.append`). The price: a transaction that stays open anywhere in the
 * cluster holds readers at the horizon until it ends (they fall behind, visible as lag; they
 * never skip). Keep transactions short.
 *
 * Events of one stream are read by {@link EventLog.readStream} in position order.
 *
 * @example
 * ```ts
 * const log = postgresEventLog(pool, { table: 'events' });
 * await log.migrate();
 * await withTransaction(pool, async (client) => {
 *   await client.query('UPDATE orders SET status = $2 WHERE id = $1', [orderId, 'paid']);
 *   await log.append(client, { stream: `order-${orderId}`, type: 'order.paid', data: { orderId } });
 * });
 * ```
 */
export function postgresEventLog(pool: Pool, options: PostgresEventLogOptions = {}): PostgresEventLog {
  const sql = postgresEventLogSql(options);
  const validator = new OptionsValidator('postgresEventLog');
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresEventLogDefaults.queryTimeoutMs;
  checkQueryTimeout(queryTimeoutMs, validator);
  validator.throwIfInvalid();
  const clock = options.clock ?? systemClock;
  const name = options.table ?? postgresEventLogDefaults.table;
  const query = statementRunner(pool, 'postgresEventLog', { timeoutMs: queryTimeoutMs, clock });
  const leases = new Set<ProjectionLease<PoolClient>>();
  let closed = false;
  const assertOpen = () => {
    if (closed) throw new MessagingError('EVENT_LOG_CLOSED', `The event log ${name} is closed`);
  };

  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const bounded = (text: string, values: unknown[]): QueryConfig => {
    const config: QueryConfig & { query_timeout: number } = { text, values, query_timeout: queryTimeoutMs };
    return config;
  };
  const on = async <Row extends QueryResultRow>(client: PoolClient, text: string, values: unknown[]) =>
    (await client.query<Row>(bounded(text, values))).rows;

  const projections: ProjectionStore<PoolClient> = {
    tryAcquire(projection, acquireOptions) {
      assertOpen();
      const signal = acquireOptions?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      const lockName = `bulwark.projection:${sql.checkpoints}:${projection}`;
      return new Promise<ProjectionLease<PoolClient> | undefined>((resolve, reject) => {
        let settled = false;
        let markLost: (error: unknown) => void = () => {};
        const lost = new Promise<unknown>((resolveLost) => {
          markLost = resolveLost;
        });
        const holding = withClient(
          pool,
          async (client) => {
            const [row] = await on<{ locked: boolean }>(client, sql.tryLock, [lockName]);
            if (!row?.locked) {
              settled = true;
              resolve(undefined);
              return;
            }
            let releaseNow: () => void = () => {};
            const releaseAsked = new Promise<void>((resolveRelease) => {
              releaseNow = resolveRelease;
            });
            let ended = false;
            let connectionError: unknown;
            const connectionFailed = new Promise<void>((resolveFailure) => {
              client.once('error', (error) => {
                connectionError = error;
                resolveFailure();
              });
            });
            let busy: Promise<unknown> = Promise.resolve();
            const lease: ProjectionLease<PoolClient> = {
              lost,
              transaction(work) {
                const run = busy.then(async () => {
                  if (ended || connectionError !== undefined)
                    throw new MessagingError('PROJECTION_LEASE_LOST', `The lease of projection ${projection} ended`, {
                      cause: connectionError,
                    });
                  await client.query(bounded('BEGIN', []));
                  try {
                    const result = await work(projectionTransaction(client));
                    await client.query(bounded('COMMIT', []));
                    return result;
                  } catch (error) {
                    await client.query(bounded('ROLLBACK', [])).catch((rollbackError: unknown) => {
                      client.emit('error', rollbackError);
                    });
                    throw error;
                  }
                });
                busy = run.catch(() => undefined);
                return run;
              },
              async release() {
                if (ended) return;
                ended = true;
                releaseNow();
                await holding.catch(() => undefined);
              },
            };
            leases.add(lease);
            settled = true;
            resolve(lease);
            await Promise.race([releaseAsked, connectionFailed]);
            leases.delete(lease);
            if (connectionError !== undefined) {
              ended = true;
              markLost(connectionError);
              throw connectionError;
            }
            await busy;
            // Unlock before the connection goes back to the pool; a failed unlock ends the
            // connection (withClient destroys it), which frees the lock too.
            await on(client, sql.unlock, [lockName]);
          },
          { connectTimeoutMs: queryTimeoutMs, clock, signal },
        );
        holding.catch((error: unknown) => {
          if (!settled) reject(error);
          else markLost(error);
        });
      });
    },
  };

  function projectionTransaction(client: PoolClient): ProjectionTransaction<PoolClient> {
    return {
      executor: client,
      async checkpoint(checkpointName) {
        const [row] = await on<{ transaction_id: string; position: string }>(client, sql.checkpointGet, [
          checkpointName,
        ]);
        return row ? { transactionId: Number(row.transaction_id), position: Number(row.position) } : eventLogStart;
      },
      async saveCheckpoint(checkpointName, cursor) {
        await on(client, sql.checkpointSave, [checkpointName, ...cursorValues(cursor)]);
      },
      async deleteCheckpoint(checkpointName) {
        await on(client, sql.checkpointDelete, [checkpointName]);
      },
      async read(after, limit) {
        return (await on<EventRow>(client, sql.read, [...cursorValues(after), limit, null])).map(toEvent);
      },
      async replaceTable(live, fresh) {
        const liveTable = tableName('projection readModel', live);
        const freshTable = tableName('projection readModel', fresh);
        await on(client, `DROP TABLE IF EXISTS ${liveTable.quoted}`, []);
        await on(client, `ALTER TABLE ${freshTable.quoted} RENAME TO "${liveTable.name}"`, []);
      },
      async dropTable(table) {
        await on(client, `DROP TABLE IF EXISTS ${tableName('projection readModel', table).quoted}`, []);
      },
    };
  }

  const log: PostgresEventLog = {
    name,
    sql,
    projections,
    async migrate(migrateOptions = {}) {
      migrateOptions.signal?.throwIfAborted();
      await query('migrate', sql.migrate, [], migrateOptions.signal);
    },
    async append(executor, given, appendOptions) {
      appendOptions?.signal?.throwIfAborted();
      assertOpen();
      const checked = checkEvents(given);
      if (checked.length === 0) return;
      const values = [JSON.stringify(checked)];
      if (typeof executor === 'function') await executor(sql.append, values);
      else await executor.query(sql.append, values);
    },
    async read(readOptions = {}) {
      const after = checkCursor('after', readOptions.after ?? eventLogStart);
      const limit = checkLimit(readOptions.limit, 100);
      const result = await query<EventRow>(
        'read',
        sql.read,
        [...cursorValues(after), limit, readOptions.types ? [...readOptions.types] : null],
        readOptions.signal,
      );
      return result.rows.map(toEvent);
    },
    async readStream(stream, readOptions = {}) {
      const limit = checkLimit(readOptions.limit, 100);
      const result = await query<EventRow>(
        'readStream',
        sql.readStream,
        [stream, readOptions.afterPosition ?? 0, limit],
        readOptions.signal,
      );
      return result.rows.map(toEvent);
    },
    async head(headOptions = {}) {
      const result = await query<{ transaction_id_text: string; position: string }>(
        'head',
        sql.head,
        [],
        headOptions.signal,
      );
      const row = result.rows[0];
      return row ? { transactionId: Number(row.transaction_id_text), position: Number(row.position) } : eventLogStart;
    },
    async lag(after, lagOptions = {}) {
      checkCursor('after', after);
      const limit = checkLimit(lagOptions.limit, 100_000);
      const result = await query<{ events: number; oldest_age_ms: number }>(
        'lag',
        sql.lag,
        [...cursorValues(after), limit],
        lagOptions.signal,
      );
      const row = result.rows[0];
      return { events: row?.events ?? 0, oldestAgeMs: Math.max(0, Math.round(row?.oldest_age_ms ?? 0)) };
    },
    async prune(pruneOptions) {
      checkPrune(pruneOptions);
      const before = pruneOptions.before;
      const values = [
        before ? String(before.transactionId) : null,
        before ? before.position : null,
        pruneOptions.olderThanMs ?? null,
      ];
      const result = await query('prune', sql.prune, values, pruneOptions.signal);
      return result.rowCount ?? 0;
    },
    async close() {
      closed = true;
      await Promise.all([...leases].map((lease) => lease.release()));
    },
    [Symbol.asyncDispose]() {
      return log.close();
    },
  };
  return log;
}
