import { randomUUID } from 'node:crypto';
import type { Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import { migrateUnderLock } from '@bulwark/resilience/internal/postgres';
import type { Pool } from 'pg';
import { MessagingError } from '../errors/messaging-error.js';
import { IdempotencyStoreClosedError } from '../idempotency/idempotency-errors.js';
import type { BeginResult, IdempotencyRecord, IdempotencyStore } from '../idempotency/idempotency-store.js';
import { assertIdempotencyValues } from '../idempotency/idempotency-values.js';
import { checkQueryTimeout, defaultQueryTimeoutMs, statementRunner } from './postgres-store-error.js';
import beginSql from './sql/idempotency-begin.sql';
import completeSql from './sql/idempotency-complete.sql';
import deleteSql from './sql/idempotency-delete.sql';
import getSql from './sql/idempotency-get.sql';
import migrateSql from './sql/idempotency-migrate.sql';
import releaseSql from './sql/idempotency-release.sql';
import renewSql from './sql/idempotency-renew.sql';
import sweepSql from './sql/idempotency-sweep.sql';
import { tableName } from './table-name.js';

/** Options of {@link postgresIdempotencyStore}. */
export interface PostgresIdempotencyStoreOptions {
  /** The table, optionally schema-qualified (`app.idempotency_keys`). @defaultValue `'bulwark_idempotency'` */
  table?: string;
  /** Makes lease tokens; must return unguessable, unique strings. @defaultValue `crypto.randomUUID` */
  generateToken?: () => string;
  /**
   * The longest one statement may take, taking a pool connection included; past it the call
   * rejects with `PostgresStoreError` (`POSTGRES_TIMEOUT`); other failures of the server or the
   * connection reject with `POSTGRES_FAILED`. Give the pool `connectionTimeoutMillis` too.
   * @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** Times `queryTimeoutMs`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link PostgresIdempotencyStoreOptions}. */
export const postgresIdempotencyStoreDefaults = {
  table: 'bulwark_idempotency',
  queryTimeoutMs: defaultQueryTimeoutMs,
} as const;

/** The SQL of the PostgreSQL idempotency store, rendered for one table. */
export interface PostgresIdempotencySql {
  /** Creates the table and its index if missing (for your own migration tool). */
  readonly migrate: string;
  readonly begin: string;
  readonly complete: string;
  readonly release: string;
  readonly renew: string;
  readonly get: string;
  readonly delete: string;
  readonly sweep: string;
}

/**
 * The statements of {@link postgresIdempotencyStore} for `table`, so teams with their own
 * migration tool can apply `migrate` themselves.
 *
 * @example
 * ```ts
 * writeFileSync('migrations/007_idempotency.sql', postgresIdempotencySql({ table: 'app.idempotency' }).migrate);
 * ```
 */
export function postgresIdempotencySql(options: { table?: string } = {}): PostgresIdempotencySql {
  const { quoted, suffixed } = tableName(
    'postgresIdempotencyStore',
    options.table ?? postgresIdempotencyStoreDefaults.table,
  );
  const expiresIndex = suffixed('_expires_at_idx');
  const render = (sql: string) => sql.replaceAll('{{table}}', quoted).replaceAll('{{expiresIndex}}', expiresIndex);
  return {
    migrate: render(migrateSql),
    begin: render(beginSql),
    complete: render(completeSql),
    release: render(releaseSql),
    renew: render(renewSql),
    get: render(getSql),
    delete: render(deleteSql),
    sweep: render(sweepSql),
  };
}

interface RecordRow {
  status: 'in-progress' | 'completed';
  fingerprint: string;
  lease_token: string | null;
  outcome: Buffer | null;
  expires_at_ms: number;
}

/** The PostgreSQL idempotency store: an {@link IdempotencyStore} with `migrate()` and `sweep()`. */
export interface PostgresIdempotencyStore extends IdempotencyStore {
  /** Creates the table if missing; safe to run at every start, from several instances at once. */
  migrate(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Deletes up to `limit` rows that stopped counting (expired outcomes, leases that ran out).
   * They are ignored anyway; this reclaims space. Run it now and then, e.g. every few minutes.
   * @returns how many rows were deleted.
   */
  sweep(options?: { limit?: number; signal?: AbortSignal }): Promise<number>;
  /** The statements used, rendered for the configured table. */
  readonly sql: PostgresIdempotencySql;
  [Symbol.asyncDispose](): Promise<void>;
}

// A begin that loses the race described in idempotency-begin.sql returns no row; a second try
// sees the winner's committed row. More tries than this means something else is wrong.
const maxBeginAttempts = 5;

/**
 * The PostgreSQL {@link IdempotencyStore}, over the user's `pg` Pool (never closed by the store).
 * One statement per operation; time is the database's `now()`, so instances with skewed clocks
 * agree on when a lease runs out. Call `migrate()` once at start (or apply `sql.migrate` with
 * your migration tool) and `sweep()` now and then.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresIdempotencyStore } from '@bulwark/messaging/postgres';

 * const store = postgresIdempotencyStore(new pg.Pool({ connectionString: process.env.DATABASE_URL }));
 * await store.migrate();
 * ```
 */
export function postgresIdempotencyStore(
  pool: Pool,
  options: PostgresIdempotencyStoreOptions = {},
): PostgresIdempotencyStore {
  const sql = postgresIdempotencySql({ table: options.table });
  const generateToken = options.generateToken ?? randomUUID;
  const validator = new OptionsValidator('postgresIdempotencyStore');
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresIdempotencyStoreDefaults.queryTimeoutMs;
  checkQueryTimeout(queryTimeoutMs, validator);
  validator.throwIfInvalid();
  const query = statementRunner(pool, 'postgresIdempotencyStore', { timeoutMs: queryTimeoutMs, clock: options.clock });
  let closed = false;
  const check = (signal: AbortSignal | undefined) => {
    if (closed) throw new IdempotencyStoreClosedError('postgresIdempotencyStore');
    signal?.throwIfAborted();
  };
  const toRecord = (row: RecordRow): IdempotencyRecord =>
    row.status === 'completed'
      ? {
          status: 'completed',
          fingerprint: row.fingerprint,
          outcome: row.outcome ? row.outcome.toString('utf8') : '',
          expiresAt: row.expires_at_ms,
        }
      : {
          status: 'in-progress',
          fingerprint: row.fingerprint,
          leaseToken: row.lease_token ?? '',
          leaseExpiresAt: row.expires_at_ms,
        };

  const store: PostgresIdempotencyStore = {
    sql,
    async migrate(callOptions) {
      check(callOptions?.signal);
      await migrateUnderLock(pool, 'bulwark.idempotency.migrate', sql.migrate, callOptions);
    },
    async begin(key, fingerprint, leaseMs, callOptions): Promise<BeginResult> {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, fingerprint });
      const leaseToken = generateToken();
      for (let attempt = 1; attempt <= maxBeginAttempts; attempt++) {
        const { rows } = await query<RecordRow & { acquired: boolean }>(
          'begin',
          sql.begin,
          [key, fingerprint, leaseToken, leaseMs],
          callOptions?.signal,
        );
        const row = rows[0];
        if (!row) continue;
        if (row.acquired) return { kind: 'acquired', leaseToken };
        return { kind: 'existing', record: toRecord(row) };
      }
      throw new MessagingError(
        'POSTGRES_FAILED',
        `postgresIdempotencyStore.begin found no row for "${key}" after ${maxBeginAttempts} attempts`,
      );
    },
    async complete(key, leaseToken, outcome, ttlMs, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken, outcome });
      const result = await query(
        'complete',
        sql.complete,
        [key, leaseToken, Buffer.from(outcome, 'utf8'), ttlMs],
        callOptions?.signal,
      );
      return result.rowCount === 1;
    },
    async release(key, leaseToken, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken });
      return (await query('release', sql.release, [key, leaseToken], callOptions?.signal)).rowCount === 1;
    },
    async renew(key, leaseToken, leaseMs, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken });
      return (await query('renew', sql.renew, [key, leaseToken, leaseMs], callOptions?.signal)).rowCount === 1;
    },
    async get(key, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key });
      const { rows } = await query<RecordRow>('get', sql.get, [key], callOptions?.signal);
      return rows[0] ? toRecord(rows[0]) : undefined;
    },
    async delete(key, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key });
      await query('delete', sql.delete, [key], callOptions?.signal);
    },
    async sweep(sweepOptions) {
      check(sweepOptions?.signal);
      return (await query('sweep', sql.sweep, [sweepOptions?.limit ?? 10_000], sweepOptions?.signal)).rowCount ?? 0;
    },
    async close() {
      // The pool belongs to the caller; the store holds nothing else.
      closed = true;
    },
    async [Symbol.asyncDispose]() {
      await store.close();
    },
  };
  return store;
}
