import { createHash } from 'node:crypto';
import type { Clock } from '@bulwark/resilience';
import { InvalidOptionsError, OptionsValidator } from '@bulwark/resilience';
import { postgresTableName } from '@bulwark/resilience/internal/postgres';
import { boundedQuery } from '@bulwark/resilience/postgres';

import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';

import type { JsonValue } from '../definition/json.js';

import { SagaLeaseLostError, SagaLogError } from '../errors/saga-error.js';
import {
  type NewSagaLogEntry,
  type SagaLog,
  type SagaLogCallOptions,
  type SagaLogEntry,
  type SagaLogEntryKind,
  type SagaRecord,
  type SagaStatus,
  sagaStatuses,
} from '../log/saga-log.js';

import { assertSagaLogValues } from '../log/saga-log-values.js';

import appendSql from './sql/saga-log-append.sql';
import claimSql from './sql/saga-log-claim.sql';
import claimRecoverableSql from './sql/saga-log-claim-recoverable.sql';
import countsSql from './sql/saga-log-counts.sql';
import createSql from './sql/saga-log-create.sql';
import getSql from './sql/saga-log-get.sql';
import historySql from './sql/saga-log-history.sql';
import listSql from './sql/saga-log-list.sql';
import migrateSql from './sql/saga-log-migrate.sql';
import purgeSql from './sql/saga-log-purge.sql';
import renewSql from './sql/saga-log-renew.sql';

/** What the adapter needs of a `pg` client: a `pg.Pool` (recommended) or a connected `pg.Client`. */
export interface PostgresQueryable {
  query<Row extends QueryResultRow = QueryResultRow>(config: QueryConfig): Promise<QueryResult<Row>>;
}

/** Options of {@link postgresSagaLog}. */
export interface PostgresSagaLogOptions {
  /**
   * The runs table, optionally schema-qualified (`app.sagas`); the timeline goes to
   * `<table>_entries`. @defaultValue `'bulwark_sagas'`
   */
  table?: string;
  /**
   * The longest one statement may take, taking a pool connection included; past it the call
   * rejects with `SagaLogError` (`SAGA_LOG_TIMEOUT`), and a connection that went silent is
   * destroyed rather than reused. Other failures of the server or the connection reject with
   * `SAGA_LOG_FAILED`. Give the pool `connectionTimeoutMillis` too. @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** Times `queryTimeoutMs`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link PostgresSagaLogOptions}. */
export const postgresSagaLogDefaults = { table: 'bulwark_sagas', queryTimeoutMs: 5_000 } as const;

/** The SQL of the PostgreSQL saga log, rendered for one table. */
export interface PostgresSagaLogSql {
  /** Creates the tables and indexes if missing (for your own migration tool). */
  readonly migrate: string;
  readonly create: string;
  readonly append: string;
  readonly claim: string;
  readonly claimRecoverable: string;
  readonly renew: string;
  readonly get: string;
  readonly history: string;
  readonly list: string;
  readonly counts: string;
  readonly purge: string;
}

/**
 * The statements of {@link postgresSagaLog} for `table`, so teams with their own migration tool
 * can apply `migrate` themselves.
 *
 * @example
 * ```ts
 * writeFileSync('migrations/008_sagas.sql', postgresSagaLogSql({ table: 'app.sagas' }).migrate);
 * ```
 */
export function postgresSagaLogSql(options: PostgresSagaLogOptions = {}): PostgresSagaLogSql {
  const validator = new OptionsValidator('postgresSagaLog');
  const table = postgresTableName(options.table ?? postgresSagaLogDefaults.table, validator.problems);
  validator.throwIfInvalid();
  const render = (sql: string) =>
    sql
      .replaceAll('{{sagas}}', table.quoted)
      .replaceAll('{{entries}}', table.sibling('_entries'))
      .replaceAll('{{recoverableIndex}}', table.suffixed('_recoverable_idx'))
      .replaceAll('{{statusIndex}}', table.suffixed('_status_idx'));
  return {
    migrate: render(migrateSql),
    create: render(createSql),
    append: render(appendSql),
    claim: render(claimSql),
    claimRecoverable: render(claimRecoverableSql),
    renew: render(renewSql),
    get: render(getSql),
    history: render(historySql),
    list: render(listSql),
    counts: render(countsSql),
    purge: render(purgeSql),
  };
}

/** The PostgreSQL saga log: a {@link SagaLog} with `migrate()`. */
export interface PostgresSagaLog extends SagaLog {
  /** Creates the tables if missing; safe to call at every start. */
  migrate(options?: SagaLogCallOptions): Promise<void>;
  /** The statements it runs. */
  readonly sql: PostgresSagaLogSql;
}

interface RunRow {
  id: string;
  name: string;
  status: SagaStatus;
  input: JsonValue;
  owner: string | null;
  lease_until: string;
  wake_at: string | null;
  created_at: string;
  updated_at: string;
}

interface EntryRow {
  seq: number;
  at: string;
  kind: SagaLogEntryKind;
  step: string | null;
  attempt: number | null;
  data: string | null;
}

const toRecord = (row: RunRow): SagaRecord => ({
  id: row.id,
  name: row.name,
  status: row.status,
  input: row.input,
  owner: row.owner,
  leaseUntil: Number(row.lease_until),
  wakeAt: row.wake_at === null ? null : Number(row.wake_at),
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

const toEntry = (row: EntryRow): SagaLogEntry => {
  const entry: { -readonly [K in keyof SagaLogEntry]: SagaLogEntry[K] } = {
    seq: row.seq,
    at: Number(row.at),
    kind: row.kind,
  };
  if (row.step !== null) entry.step = row.step;
  if (row.attempt !== null) entry.attempt = row.attempt;
  if (row.data !== null) entry.data = JSON.parse(row.data) as JsonValue;
  return entry;
};

/**
 * A {@link SagaLog} in PostgreSQL, on a `pg.Pool` you made and own (it is never closed here).
 * Every operation is one statement, hence one round trip: a step's outcome and the next
 * step's intent are written together, fenced by the lease owner. Statements are prepared once
 * per connection.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresSagaLog } from '@bulwark/saga/postgres';

 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const log = postgresSagaLog(pool, { table: 'sagas' });
 * await log.migrate();
 * ```
 */
export function postgresSagaLog(pool: PostgresQueryable, options: PostgresSagaLogOptions = {}): PostgresSagaLog {
  const sql = postgresSagaLogSql(options);
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresSagaLogDefaults.queryTimeoutMs;
  if (!(typeof queryTimeoutMs === 'number' && queryTimeoutMs > 0 && Number.isFinite(queryTimeoutMs)))
    throw new InvalidOptionsError('postgresSagaLog', [
      `queryTimeoutMs must be a positive number, got ${String(queryTimeoutMs)}`,
    ]);
  const bounded = <Row extends QueryResultRow>(operation: string, config: QueryConfig, signal?: AbortSignal) =>
    boundedQuery<Row>(pool, config, {
      timeoutMs: queryTimeoutMs,
      signal,
      clock: options.clock,
      toError: ({ reason, timeoutMs, cause }) =>
        reason === 'timeout'
          ? new SagaLogError(operation, 'SAGA_LOG_TIMEOUT', `Saga log ${operation}: no answer within ${timeoutMs} ms`, {
              cause,
            })
          : new SagaLogError(
              operation,
              'SAGA_LOG_FAILED',
              `Saga log ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
              { cause },
            ),
    });
  // Prepared statement names are per connection and limited to 63 bytes: name them by a hash
  // of the table so two logs on one pool never share a name.
  const prefix = `bulwark_saga_${createHash('sha256')
    .update(options.table ?? postgresSagaLogDefaults.table)
    .digest('hex')
    .slice(0, 12)}`;
  const run = async <Row extends QueryResultRow>(
    statement: Exclude<keyof PostgresSagaLogSql, 'migrate'>,
    values: unknown[],
    callOptions?: SagaLogCallOptions,
  ): Promise<Row[]> => {
    callOptions?.signal?.throwIfAborted();
    const result = await bounded<Row>(
      statement,
      { name: `${prefix}_${statement}`, text: sql[statement], values },
      callOptions?.signal,
    );
    return result.rows;
  };
  const entriesJson = (entries: readonly NewSagaLogEntry[]) => JSON.stringify(entries);

  return {
    sql,

    async migrate(callOptions) {
      callOptions?.signal?.throwIfAborted();
      await bounded('migrate', { text: sql.migrate }, callOptions?.signal);
    },

    async create(saga, entries, callOptions) {
      assertSagaLogValues({ sagaId: saga.id, name: saga.name, owner: saga.owner, input: saga.input, entries });
      const [row] = await run<{ created: number }>(
        'create',
        [saga.id, saga.name, JSON.stringify(saga.input), saga.owner, saga.leaseUntil, saga.at, entriesJson(entries)],
        callOptions,
      );
      if (row?.created === 1) {
        return {
          created: true,
          record: {
            id: saga.id,
            name: saga.name,
            status: 'running',
            input: saga.input,
            owner: saga.owner,
            leaseUntil: saga.leaseUntil,
            wakeAt: null,
            createdAt: saga.at,
            updatedAt: saga.at,
          },
        };
      }
      const [existing] = await run<RunRow>('get', [saga.id], callOptions);
      if (!existing)
        throw new SagaLogError('create', 'SAGA_LOG_FAILED', `saga ${saga.id} vanished between create and get`);
      return { created: false, record: toRecord(existing) };
    },

    async append(sagaId, owner, write, callOptions) {
      assertSagaLogValues({ sagaId, owner, entries: write.entries });
      const [row] = await run<{ updated: number }>(
        'append',
        [
          sagaId,
          owner,
          write.status ?? null,
          write.release === true,
          write.leaseUntil,
          write.wakeAt ?? null,
          write.at,
          entriesJson(write.entries),
        ],
        callOptions,
      );
      if (row?.updated !== 1) throw new SagaLeaseLostError(sagaId, owner);
    },

    async claim(sagaId, owner, lease, callOptions) {
      assertSagaLogValues({ sagaId, owner });
      const [row] = await run<RunRow>('claim', [sagaId, owner, lease.leaseUntil, lease.now], callOptions);
      return row ? toRecord(row) : undefined;
    },

    async claimRecoverable(owner, query, callOptions) {
      assertSagaLogValues({ owner });
      const rows = await run<RunRow>(
        'claimRecoverable',
        [owner, query.leaseUntil, query.now, query.limit],
        callOptions,
      );
      return rows.map(toRecord).sort((left, right) => left.updatedAt - right.updatedAt);
    },

    async renew(owner, sagaIds, leaseUntil, callOptions) {
      assertSagaLogValues({ owner });
      for (const sagaId of sagaIds) assertSagaLogValues({ sagaId });
      if (sagaIds.length === 0) return [];
      const rows = await run<{ id: string }>('renew', [owner, sagaIds, leaseUntil], callOptions);
      return rows.map((row) => row.id);
    },

    async get(sagaId, callOptions) {
      assertSagaLogValues({ sagaId });
      const [row] = await run<RunRow>('get', [sagaId], callOptions);
      return row ? toRecord(row) : undefined;
    },

    async history(sagaId, callOptions) {
      assertSagaLogValues({ sagaId });
      return (await run<EntryRow>('history', [sagaId], callOptions)).map(toEntry);
    },

    async list(query = {}, callOptions) {
      const rows = await run<RunRow>(
        'list',
        [query.status ?? null, query.limit ?? 100, query.offset ?? 0],
        callOptions,
      );
      return rows.map(toRecord);
    },

    async counts(callOptions) {
      const counts = Object.fromEntries(sagaStatuses.map((status) => [status, 0])) as Record<SagaStatus, number>;
      for (const row of await run<{ status: SagaStatus; count: number }>('counts', [], callOptions))
        counts[row.status] = row.count;
      return counts;
    },

    async purge(query, callOptions) {
      const [row] = await run<{ purged: number }>('purge', [query.finishedBefore, query.limit ?? 1_000], callOptions);
      return row?.purged ?? 0;
    },
  };
}
