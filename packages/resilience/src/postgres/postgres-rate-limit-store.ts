import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { migrateUnderLock } from '../internal/postgres/migrate-under-lock.js';
import { postgresTableName, quotePostgresIdentifier } from '../internal/postgres/postgres-table-name.js';
import { OptionsValidator } from '../policy/options.js';
import type { RateLimitAlgorithm } from '../rate-limit/algorithms.js';
import { RateLimitStoreError } from '../rate-limit/rate-limit-errors.js';
import type { RateLimitDecision, RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { invalidKey } from '../storable-text/invalid-key.js';
import { boundedQuery, type PostgresQueryFailure } from './bounded-query.js';
import fixedWindowSql from './sql/rate-limit-fixed-window.sql';
import gcraSql from './sql/rate-limit-gcra.sql';
import migrateSql from './sql/rate-limit-migrate.sql';
import resetSql from './sql/rate-limit-reset.sql';
import slidingWindowSql from './sql/rate-limit-sliding-window.sql';
import sweepSql from './sql/rate-limit-sweep.sql';

/** Options of {@link postgresRateLimitStore} and {@link postgresRateLimitSql}. */
export interface PostgresRateLimitTableOptions {
  /**
   * The table, optionally schema-qualified (`app.rate_limits`; parts plain or double-quoted);
   * without a schema it goes to the connection's `search_path`.
   * @defaultValue 'bulwark_rate_limits'
   */
  readonly table?: string;
  /**
   * Create the table `UNLOGGED`: writes skip the WAL (much faster); after a crash every key starts
   * from its full limit, and the table is not replicated to standbys.
   * @defaultValue true
   */
  readonly unlogged?: boolean;
}

/** Options of {@link postgresRateLimitStore}. */
export interface PostgresRateLimitStoreOptions extends PostgresRateLimitTableOptions {
  /**
   * How often keys back to their full limit are deleted (`sweep()`), on the caller's pool; 0
   * disables it (call `sweep()` yourself). The timer never keeps the process alive.
   * @defaultValue 60_000
   */
  readonly sweepIntervalMs?: number;
  /**
   * The longest one statement may take once sent (pg's `query_timeout`): past it the call rejects
   * with `RateLimitStoreError` (`RATE_LIMIT_STORE_TIMEOUT`) and a connection that went silent is
   * destroyed rather than reused. The wait for a pool connection is not counted: the limiter's
   * own `timeoutMs` bounds its callers' whole wait. Give the pool `connectionTimeoutMillis` too.
   * @defaultValue 5_000
   */
  readonly queryTimeoutMs?: number;
  /** Schedules the sweep and the query bound. @defaultValue systemClock */
  readonly clock?: Clock;
}

/** The defaults of {@link PostgresRateLimitStoreOptions}. */
export const postgresRateLimitStoreDefaults = { sweepIntervalMs: 60_000, queryTimeoutMs: 5_000 } as const;

/** A {@link RateLimitStore} on PostgreSQL, with its migration and sweep. */
export interface PostgresRateLimitStore extends RateLimitStore {
  /** Creates the table and index if missing; safe to run at every start and concurrently. */
  migrate(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Deletes keys that are back to their full limit; resolves how many were deleted. */
  sweep(options?: { readonly signal?: AbortSignal }): Promise<number>;
  /** The quoted, possibly schema-qualified table name the store uses. */
  readonly table: string;
}

/** The SQL of the PostgreSQL rate-limit store, rendered for one table. */
export interface PostgresRateLimitSql {
  /** Creates the table and index if missing (for your own migration tool). */
  readonly migrate: string;
  /** One decision of each algorithm (`$1` key, `$2` cost, `$3` dry run, `$4` limit, `$5` period in µs). */
  readonly gcra: string;
  readonly fixedWindow: string;
  readonly slidingWindow: string;
  /** Forgets one key (`$1`). */
  readonly reset: string;
  /** Deletes keys back to their full limit. */
  readonly sweep: string;
}

/**
 * The statements of {@link postgresRateLimitStore} for a table, so teams with their own migration
 * tool can apply `migrate` themselves. The same SQL runs in {@link PostgresRateLimitStore.migrate}.
 *
 * @example
 * ```ts
 * writeFileSync('migrations/009_rate_limits.sql', postgresRateLimitSql({ table: 'app.rate_limits' }).migrate);
 * ```
 */
export function postgresRateLimitSql(options: PostgresRateLimitTableOptions = {}): PostgresRateLimitSql {
  const validator = new OptionsValidator('postgresRateLimitStore');
  const table = postgresTableName(options.table ?? 'bulwark_rate_limits', validator.problems);
  if ('schema' in options) validator.report(`schema is no longer an option: write table: 'schema.name'`);
  validator.throwIfInvalid();
  const render = (sql: string) =>
    sql
      .replaceAll('{{table}}', table.quoted)
      .replaceAll('{{unlogged}}', options.unlogged === false ? '' : 'UNLOGGED')
      .replaceAll('{{expires_index}}', quotePostgresIdentifier(`${table.name}_expires_at`.slice(0, 63)));
  return {
    migrate: render(migrateSql),
    gcra: render(gcraSql),
    fixedWindow: render(fixedWindowSql),
    slidingWindow: render(slidingWindowSql),
    reset: render(resetSql),
    sweep: render(sweepSql),
  };
}

interface DecisionRow {
  allowed: boolean;
  remaining: string | number;
  retry_after_us: string | number;
  reset_us: string | number;
}

const toDecision = (row: DecisionRow): RateLimitDecision => ({
  allowed: row.allowed,
  remaining: Number(row.remaining),
  retryAfterMs: Math.ceil(Number(row.retry_after_us) / 1000),
  resetMs: Math.ceil(Number(row.reset_us) / 1000),
});

/**
 * A {@link RateLimitStore} on PostgreSQL through the caller's `pg` Pool (never closed by the
 * store). Each decision is one statement — `INSERT … ON CONFLICT (key) DO UPDATE … RETURNING` with
 * the algorithm's math in SQL (`src/postgres/sql/rate-limit-*.sql`) — prepared once per connection.
 * Time is the server's `clock_timestamp()`, read under the row lock. Call `migrate()` once at
 * start (or run {@link postgresRateLimitSql}'s `migrate` with your migration tool).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { rateLimiter, tokenBucket } from '@bulwark/resilience';
 * import { postgresRateLimitStore } from '@bulwark/resilience/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const store = postgresRateLimitStore(pool);
 * await store.migrate();
 * const limiter = rateLimiter({ name: 'login', algorithm: tokenBucket({ capacity: 5, refillPerSecond: 0.1 }), store });
 * ```
 */
export function postgresRateLimitStore(
  pool: Pool,
  options: PostgresRateLimitStoreOptions = {},
): PostgresRateLimitStore {
  const validator = new OptionsValidator('postgresRateLimitStore');
  if (!pool || typeof pool.query !== 'function') validator.report('pool must be a pg Pool');
  const sweepIntervalMs = options.sweepIntervalMs ?? postgresRateLimitStoreDefaults.sweepIntervalMs;
  if (!(sweepIntervalMs >= 0)) validator.report(`sweepIntervalMs must be 0 or positive, got ${sweepIntervalMs}`);
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresRateLimitStoreDefaults.queryTimeoutMs;
  if (!(queryTimeoutMs > 0 && Number.isFinite(queryTimeoutMs)))
    validator.report(`queryTimeoutMs must be a positive number, got ${queryTimeoutMs}`);
  validator.throwIfInvalid();
  const sql = postgresRateLimitSql(options);
  const clock = options.clock ?? systemClock;
  const table = postgresTableName(options.table ?? 'bulwark_rate_limits', []).quoted;
  // Prepared statement names are per connection and at most 63 bytes: name them by a hash of the
  // table so stores on different tables never collide.
  const tag = createHash('sha1').update(table).digest('hex').slice(0, 12);
  const statements = {
    gcra: { name: `bulwark_rl_gcra_${tag}`, text: sql.gcra },
    'fixed-window': { name: `bulwark_rl_fixed_${tag}`, text: sql.fixedWindow },
    'sliding-window': { name: `bulwark_rl_sliding_${tag}`, text: sql.slidingWindow },
  } as const;
  const { reset, sweep } = sql;
  let sweepTimer: TimerHandle | undefined;
  let closed = false;
  const toError = ({ reason, timeoutMs, cause }: PostgresQueryFailure) =>
    reason === 'timeout'
      ? new RateLimitStoreError('RATE_LIMIT_STORE_TIMEOUT', `PostgreSQL did not answer within ${timeoutMs} ms`, {
          cause,
        })
      : new RateLimitStoreError('RATE_LIMIT_STORE_FAILED', 'PostgreSQL rate-limit statement failed', { cause });
  const query = (text: string, values: unknown[], signal?: AbortSignal, name?: string) =>
    boundedQuery<DecisionRow>(pool, name === undefined ? { text, values } : { name, text, values }, {
      timeoutMs: queryTimeoutMs,
      // The limiter bounds its callers' whole wait (its timeoutMs); this bound frees the connection.
      bound: 'statement',
      signal,
      clock,
      toError,
    });

  const scheduleSweep = (): void => {
    if (sweepIntervalMs === 0 || sweepTimer !== undefined || closed) return;
    sweepTimer = clock.setTimeout(() => {
      sweepTimer = undefined;
      // A failed sweep is retried at the next interval; expired rows are harmless meanwhile.
      query(sweep, []).then(scheduleSweep, scheduleSweep);
    }, sweepIntervalMs);
  };

  const decide = (
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    dryRun: boolean,
    signal: AbortSignal | undefined,
  ) => {
    const statement = statements[algorithm.kind];
    const period = algorithm.kind === 'gcra' ? algorithm.intervalUs : algorithm.windowUs;
    scheduleSweep();
    return query(statement.text, [key, cost, dryRun, algorithm.limit, period], signal, statement.name).then((result) =>
      toDecision(result.rows[0] as DecisionRow),
    );
  };

  return {
    table,
    consume(key, algorithm, cost, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      return decide(key, algorithm, cost, false, callOptions?.signal);
    },
    peek(key, algorithm, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      return decide(key, algorithm, 1, true, callOptions?.signal);
    },
    async reset(key, callOptions) {
      callOptions?.signal?.throwIfAborted();
      const invalid = invalidKey('key', key);
      if (invalid) throw invalid;
      await query(reset, [key], callOptions?.signal);
    },
    async migrate(migrateOptions) {
      await migrateUnderLock(pool, 'bulwark.rate-limit.migrate', sql.migrate, migrateOptions);
    },
    async sweep(sweepOptions) {
      sweepOptions?.signal?.throwIfAborted();
      const result = await query(sweep, [], sweepOptions?.signal);
      return result.rowCount ?? 0;
    },
    async close() {
      closed = true;
      if (sweepTimer !== undefined) clock.clearTimeout(sweepTimer);
      sweepTimer = undefined;
    },
  };
}
