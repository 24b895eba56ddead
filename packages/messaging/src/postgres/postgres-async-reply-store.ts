import type { Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import { migrateUnderLock } from '@bulwark/resilience/internal/postgres';
import type { Pool } from 'pg';
import { AsyncReplyStoreClosedError } from '../async-reply/async-reply-errors.js';
import type {
  AsyncReplyErrorInfo,
  AsyncReplyRecord,
  AsyncReplyStatus,
  AsyncReplyStore,
  AsyncReplyStoreCallOptions,
} from '../async-reply/async-reply-store.js';
import { assertAsyncReplyValues } from '../async-reply/async-reply-values.js';
import { checkQueryTimeout, defaultQueryTimeoutMs, statementRunner } from './postgres-store-error.js';
import createSql from './sql/async-reply-create.sql';
import finishSql from './sql/async-reply-finish.sql';
import getSql from './sql/async-reply-get.sql';
import migrateSql from './sql/async-reply-migrate.sql';
import startSql from './sql/async-reply-start.sql';
import sweepSql from './sql/async-reply-sweep.sql';
import { tableName } from './table-name.js';

/** Options of {@link postgresAsyncReplyStore}. */
export interface PostgresAsyncReplyStoreOptions {
  /** The table, optionally schema-qualified (`app.operations`). @defaultValue `'bulwark_async_reply'` */
  table?: string;
  /** Rows deleted per statement by `sweepExpired` (it loops until none are left). @defaultValue `10_000` */
  sweepBatchSize?: number;
  /**
   * The longest one statement may take, taking a pool connection included; past it the call
   * rejects with `PostgresStoreError` (`POSTGRES_TIMEOUT`). Every other failure of the server or
   * the connection rejects with `POSTGRES_FAILED`. Give the pool `connectionTimeoutMillis` too.
   * @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** Times `queryTimeoutMs`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link PostgresAsyncReplyStoreOptions}. */
export const postgresAsyncReplyStoreDefaults = {
  table: 'bulwark_async_reply',
  sweepBatchSize: 10_000,
  queryTimeoutMs: defaultQueryTimeoutMs,
} as const;

/** The SQL of the PostgreSQL async reply store, rendered for one table. */
export interface PostgresAsyncReplySql {
  /** Creates the table and its index if missing (for your own migration tool). */
  readonly migrate: string;
  readonly create: string;
  readonly get: string;
  readonly start: string;
  readonly finish: string;
  readonly sweep: string;
}

/**
 * The statements of {@link postgresAsyncReplyStore} for `table`, so teams with their own
 * migration tool can apply `migrate` themselves.
 *
 * @example
 * ```ts
 * writeFileSync('migrations/008_async_reply.sql', postgresAsyncReplySql({ table: 'app.operations' }).migrate);
 * ```
 */
export function postgresAsyncReplySql(options: { table?: string } = {}): PostgresAsyncReplySql {
  const { quoted, suffixed } = tableName(
    'postgresAsyncReplyStore',
    options.table ?? postgresAsyncReplyStoreDefaults.table,
  );
  const expiresIndex = suffixed('_expires_at_idx');
  const render = (sql: string) => sql.replaceAll('{{table}}', quoted).replaceAll('{{expiresIndex}}', expiresIndex);
  return {
    migrate: render(migrateSql),
    create: render(createSql),
    get: render(getSql),
    start: render(startSql),
    finish: render(finishSql),
    sweep: render(sweepSql),
  };
}

interface RecordRow {
  id: string;
  kind: string;
  status: AsyncReplyStatus;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string;
  attempts: number;
  run_id: string | null;
  lease_until: string | null;
  result: string | null;
  result_claimed: boolean | null;
  error: AsyncReplyErrorInfo | null;
}

// bigint columns come back as strings; every value here is a ms timestamp well within 2^53.
function toRecord(row: RecordRow): AsyncReplyRecord {
  const record: { -readonly [K in keyof AsyncReplyRecord]: AsyncReplyRecord[K] } = {
    id: row.id,
    kind: row.kind,
    status: row.status,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    expiresAt: Number(row.expires_at),
    attempts: row.attempts,
  };
  if (row.started_at !== null) record.startedAt = Number(row.started_at);
  if (row.finished_at !== null) record.finishedAt = Number(row.finished_at);
  if (row.lease_until !== null) record.leaseUntil = Number(row.lease_until);
  if (row.run_id !== null) record.runId = row.run_id;
  if (row.result !== null) {
    record.result = row.result;
    record.resultClaimed = row.result_claimed === true;
  }
  if (row.error !== null) record.error = row.error;
  return record;
}

/** The PostgreSQL async reply store: an {@link AsyncReplyStore} with `migrate()` and its SQL. */
export interface PostgresAsyncReplyStore extends AsyncReplyStore {
  /** Creates the table if missing; safe to run at every start, from several instances at once. */
  migrate(options?: AsyncReplyStoreCallOptions): Promise<void>;
  /** The statements used, rendered for the configured table. */
  readonly sql: PostgresAsyncReplySql;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The PostgreSQL {@link AsyncReplyStore}, over the user's `pg` Pool (never closed by the store).
 * One statement per operation; `start` is an `UPDATE … WHERE status = 'pending' OR lease ran
 * out`, so of concurrent starts one wins. Call `migrate()` once at start (or apply `sql.migrate`
 * with your migration tool) and `asyncReply.sweepExpired()` now and then.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresAsyncReplyStore } from '@bulwark/messaging/postgres';

 * const store = postgresAsyncReplyStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * await store.migrate();
 * const reports = asyncReply({ store });
 * ```
 */
export function postgresAsyncReplyStore(
  pool: Pool,
  options: PostgresAsyncReplyStoreOptions = {},
): PostgresAsyncReplyStore {
  const sql = postgresAsyncReplySql({ table: options.table ?? postgresAsyncReplyStoreDefaults.table });
  const sweepBatchSize = options.sweepBatchSize ?? postgresAsyncReplyStoreDefaults.sweepBatchSize;
  const validator = new OptionsValidator('postgresAsyncReplyStore');
  if (!pool || typeof (pool as Partial<Pool>).query !== 'function') validator.report('pool must be a pg Pool');
  if (!Number.isInteger(sweepBatchSize) || sweepBatchSize <= 0) {
    validator.report(`sweepBatchSize must be a positive integer, got ${sweepBatchSize}`);
  }
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresAsyncReplyStoreDefaults.queryTimeoutMs;
  checkQueryTimeout(queryTimeoutMs, validator);
  validator.throwIfInvalid();
  const query = statementRunner(pool, 'postgresAsyncReplyStore', { timeoutMs: queryTimeoutMs, clock: options.clock });
  let closed = false;
  const check = (signal: AbortSignal | undefined) => {
    if (closed) throw new AsyncReplyStoreClosedError('postgresAsyncReplyStore');
    signal?.throwIfAborted();
  };

  const store: PostgresAsyncReplyStore = {
    sql,
    async migrate(callOptions) {
      check(callOptions?.signal);
      await migrateUnderLock(pool, 'bulwark.async-reply.migrate', sql.migrate, callOptions);
    },
    async create(record, callOptions) {
      check(callOptions?.signal);
      assertAsyncReplyValues({ id: record.id, kind: record.kind });
      const result = await query(
        'create',
        sql.create,
        [record.id, record.kind, record.createdAt, record.expiresAt],
        callOptions?.signal,
      );
      return result.rowCount === 1;
    },
    async get(id, now, callOptions) {
      check(callOptions?.signal);
      assertAsyncReplyValues({ id });
      const { rows } = await query<RecordRow>('get', sql.get, [id, now], callOptions?.signal);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async start(id, run, callOptions) {
      check(callOptions?.signal);
      assertAsyncReplyValues({ id, runId: run.runId });
      const { rows } = await query<RecordRow>(
        'start',
        sql.start,
        [id, run.now, run.runId, run.leaseUntil],
        callOptions?.signal,
      );
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async finish(id, outcome, callOptions) {
      check(callOptions?.signal);
      assertAsyncReplyValues({ id, outcome });
      const succeeded = outcome.status === 'succeeded';
      const result = await query(
        'finish',
        sql.finish,
        [
          id,
          outcome.now,
          outcome.runId,
          outcome.status,
          outcome.expiresAt,
          succeeded ? outcome.result : null,
          succeeded ? outcome.resultClaimed : null,
          succeeded ? null : JSON.stringify(outcome.error),
        ],
        callOptions?.signal,
      );
      return result.rowCount === 1;
    },
    async sweepExpired(now, callOptions) {
      let swept = 0;
      for (;;) {
        check(callOptions?.signal);
        const deleted =
          (await query('sweepExpired', sql.sweep, [now, sweepBatchSize], callOptions?.signal)).rowCount ?? 0;
        swept += deleted;
        if (deleted < sweepBatchSize) return swept;
      }
    },
    async close() {
      closed = true;
    },
    [Symbol.asyncDispose]() {
      return store.close();
    },
  };
  return store;
}
