import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { abortable } from '../clock/abortable.js';
import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { pipelinedBatcher } from '../internal/pipelined-batcher.js';
import { migrateUnderLock } from '../internal/postgres/migrate-under-lock.js';
import { postgresTableName, quotePostgresIdentifier } from '../internal/postgres/postgres-table-name.js';
import { OptionsValidator } from '../policy/options.js';
import type { RateLimitAlgorithm } from '../rate-limit/algorithms.js';
import { RateLimitStoreError } from '../rate-limit/rate-limit-errors.js';
import type { RateLimitDecision, RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { invalidKey } from '../storable-text/invalid-key.js';
import { boundedQuery, type PostgresQueryFailure } from './bounded-query.js';
import decideSql from './sql/rate-limit-decide.sql';
import decideFunctionSql from './sql/rate-limit-decide-function.sql';
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
  /**
   * Let concurrent callers share statements: the decisions requested in the same tick, or while
   * `maxInFlight` statements are out, leave together as one statement (one round trip, one
   * commit), each still decided atomically and the same key in request order; a lone call goes
   * alone, after the current tick. `false`: one statement per decision (needs no function in
   * the database).
   * @defaultValue true
   */
  readonly batch?: boolean;
  /**
   * Most decisions in one statement, bounding how long its row locks are held.
   * @defaultValue 32
   */
  readonly maxBatchSize?: number;
  /**
   * Most batched statements awaiting PostgreSQL at once (each holds a pool connection while
   * out); keep it below the pool's `max`.
   * @defaultValue 4
   */
  readonly maxInFlight?: number;
}

/** The defaults of {@link PostgresRateLimitStoreOptions}. */
export const postgresRateLimitStoreDefaults = {
  sweepIntervalMs: 60_000,
  queryTimeoutMs: 5_000,
  batch: true,
  // Measured at 64 callers on logged tables (`pnpm bench rate-limit.postgres`): 32 × 4 beat
  // 16 × 8 (the Redis defaults), 16 × 4, 48 × 4 and 64 × 1..4; fewer, larger commits win.
  maxBatchSize: 32,
  maxInFlight: 4,
} as const;

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
  /**
   * Creates the table and index if missing, and creates or replaces the function that decides a
   * batch (for your own migration tool).
   */
  readonly migrate: string;
  /**
   * Decides a batch in one statement: `$1` kinds, `$2` keys, `$3` costs, `$4` dry runs, `$5`
   * limits, `$6` periods in µs (arrays, one element per decision); one row per decision with its
   * 1-based `ordinal`. Needs the function that `migrate` creates.
   */
  readonly decide: string;
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
  // Named by a hash of the table, like the prepared statements: a name made from the table's
  // could pass 63 bytes and be cut, and two tables would then share one function.
  const functionName = `bulwark_rl_decide_${tableTag(table.quoted)}`;
  const render = (sql: string) =>
    sql
      .replaceAll('{{table}}', table.quoted)
      .replaceAll('{{unlogged}}', options.unlogged === false ? '' : 'UNLOGGED')
      .replaceAll('{{expires_index}}', quotePostgresIdentifier(`${table.name}_expires_at`.slice(0, 63)))
      .replaceAll(
        '{{function}}',
        table.schema === undefined
          ? quotePostgresIdentifier(functionName)
          : `${quotePostgresIdentifier(table.schema)}.${quotePostgresIdentifier(functionName)}`,
      );
  const gcra = render(gcraSql);
  const fixedWindow = render(fixedWindowSql);
  const slidingWindow = render(slidingWindowSql);
  const decideFunction = render(decideFunctionSql)
    .replace('{{gcra}}', inFunction(gcra))
    .replace('{{fixed_window}}', inFunction(fixedWindow))
    .replace('{{sliding_window}}', inFunction(slidingWindow));
  return {
    migrate: `${render(migrateSql)}\n${decideFunction}`,
    decide: render(decideSql),
    gcra,
    fixedWindow,
    slidingWindow,
    reset: render(resetSql),
    sweep: render(sweepSql),
  };
}

/** A short hash of the quoted table, naming what belongs to it within 63 bytes. */
const tableTag = (quotedTable: string) => createHash('sha1').update(quotedTable).digest('hex').slice(0, 12);

/** The PL/pgSQL variables of the decide function that stand for `$1`..`$5` of a one-decision statement. */
const decisionVariables = ['decision_key', 'decision_cost', 'decision_dry_run', 'decision_limit', 'decision_period'];

/** A one-decision statement as the body of the decide function runs it: no header, variables for parameters. */
const inFunction = (statement: string) =>
  statement
    .replace(/^(?:--.*\n)+/, '')
    .replace(/\$([1-5])(?![0-9])/g, (_, position: string) => decisionVariables[Number(position) - 1] as string)
    .trim();

interface DecisionRow {
  ordinal?: number;
  allowed: boolean;
  remaining: string | number;
  retry_after_us: string | number;
  reset_us: string | number;
}

/** One decision to send: the arguments of the one-decision statements, and the algorithm. */
interface DecisionRequest {
  readonly kind: RateLimitAlgorithm['kind'];
  readonly key: string;
  readonly cost: number;
  readonly dryRun: boolean;
  readonly limit: number;
  readonly period: number;
}

const toDecision = (row: DecisionRow): RateLimitDecision => ({
  allowed: row.allowed,
  remaining: Number(row.remaining),
  retryAfterMs: Math.ceil(Number(row.retry_after_us) / 1000),
  resetMs: Math.ceil(Number(row.reset_us) / 1000),
});

/**
 * A {@link RateLimitStore} on PostgreSQL through the caller's `pg` Pool (never closed by the
 * store). Each decision is one `INSERT … ON CONFLICT (key) DO UPDATE … RETURNING` with the
 * algorithm's math in SQL (`src/postgres/sql/rate-limit-*.sql`). Under load, concurrent decisions
 * share statements (`batch`): one call of a PL/pgSQL function the migration creates, which runs
 * them one after the other in one transaction (so one round trip and one commit for the batch),
 * the same key in request order, and answers each caller its own decision; a failed statement
 * fails every caller of its batch (and takes nothing: it rolls back whole). Statements in flight
 * at once (`maxInFlight`) run on separate connections in whichever order the server takes them,
 * as concurrent calls always did; each batch locks its rows in key order, so batches sharing
 * keys never deadlock. Statements are prepared once per connection. Time is the
 * server's `clock_timestamp()`, read under the row lock. Call `migrate()` once at start (or run
 * {@link postgresRateLimitSql}'s `migrate` with your migration tool).
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
  const batching = options.batch ?? postgresRateLimitStoreDefaults.batch;
  if (typeof batching !== 'boolean') validator.report(`batch must be a boolean, got ${String(batching)}`);
  const maxBatchSize = options.maxBatchSize ?? postgresRateLimitStoreDefaults.maxBatchSize;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1)
    validator.report(`maxBatchSize must be a positive integer, got ${maxBatchSize}`);
  const maxInFlight = options.maxInFlight ?? postgresRateLimitStoreDefaults.maxInFlight;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
    validator.report(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  validator.throwIfInvalid();
  const sql = postgresRateLimitSql(options);
  const clock = options.clock ?? systemClock;
  const table = postgresTableName(options.table ?? 'bulwark_rate_limits', []).quoted;
  // Prepared statement names are per connection and at most 63 bytes: name them by a hash of the
  // table so stores on different tables never collide.
  const tag = tableTag(table);
  const statements = {
    gcra: { name: `bulwark_rl_gcra_${tag}`, text: sql.gcra },
    'fixed-window': { name: `bulwark_rl_fixed_${tag}`, text: sql.fixedWindow },
    'sliding-window': { name: `bulwark_rl_sliding_${tag}`, text: sql.slidingWindow },
  } as const;
  const decideStatement = { name: `bulwark_rl_decide_${tag}`, text: sql.decide };
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

  const decideOne = (request: DecisionRequest, signal?: AbortSignal): Promise<RateLimitDecision> => {
    const statement = statements[request.kind];
    const values = [request.key, request.cost, request.dryRun, request.limit, request.period];
    return query(statement.text, values, signal, statement.name).then((result) =>
      toDecision(result.rows[0] as DecisionRow),
    );
  };

  // One statement for a batch; rows come back in lock order (by key), each with its position.
  const sendBatch = async (requests: readonly DecisionRequest[]): Promise<RateLimitDecision[]> => {
    // Alone, the one-decision statement: no function call, no arrays to build and parse.
    if (requests.length === 1) return [await decideOne(requests[0] as DecisionRequest)];
    const columns = [[], [], [], [], [], []] as [string[], string[], number[], boolean[], number[], number[]];
    for (const request of requests) {
      columns[0].push(request.kind);
      columns[1].push(request.key);
      columns[2].push(request.cost);
      columns[3].push(request.dryRun);
      columns[4].push(request.limit);
      columns[5].push(request.period);
    }
    const { rows } = await query(decideStatement.text, columns, undefined, decideStatement.name);
    const decisions: RateLimitDecision[] = new Array(requests.length);
    for (const row of rows) decisions[(row.ordinal as number) - 1] = toDecision(row);
    if (rows.length !== requests.length)
      throw new RateLimitStoreError(
        'RATE_LIMIT_STORE_FAILED',
        `PostgreSQL answered ${rows.length} decisions for a batch of ${requests.length}`,
      );
    return decisions;
  };
  // 'always': every statement is a commit (on a logged table a WAL flush), so callers gain from
  // sharing one even when a connection is free for each of them.
  const batcher = batching
    ? pipelinedBatcher({ maxBatchSize, maxInFlight, coalesce: 'always', send: sendBatch })
    : undefined;

  const decide = (
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    dryRun: boolean,
    signal: AbortSignal | undefined,
  ): Promise<RateLimitDecision> => {
    const period = algorithm.kind === 'gcra' ? algorithm.intervalUs : algorithm.windowUs;
    const request: DecisionRequest = { kind: algorithm.kind, key, cost, dryRun, limit: algorithm.limit, period };
    scheduleSweep();
    // A caller whose signal aborts stops waiting; its batch goes on for the others.
    return batcher ? abortable(batcher(request), signal) : decideOne(request, signal);
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
