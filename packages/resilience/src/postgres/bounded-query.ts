import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { type Clock, systemClock } from '../clock/clock.js';
import { isReadTimeout } from './with-client.js';

/** What a bounded query needs of `pg`: a `Pool` (recommended) or a connected `Client`. */
export interface PostgresQueryTarget {
  query<Row extends QueryResultRow = QueryResultRow>(config: QueryConfig): Promise<QueryResult<Row>>;
}

/** Why a {@link boundedQuery} failed, handed to the caller's error factory. */
export interface PostgresQueryFailure {
  /** `timeout`: no answer within `timeoutMs` (a silent network, a lock); `failed`: the driver or server said no. */
  readonly reason: 'timeout' | 'failed';
  /** The bound that applied, in ms. */
  readonly timeoutMs: number;
  /** The driver's error (absent for a timeout of our own timer). */
  readonly cause?: unknown;
}

/** Options of {@link boundedQuery}. */
export interface BoundedQueryOptions {
  /** The longest the caller waits, from the call to the last row (taking a connection included). */
  readonly timeoutMs: number;
  /**
   * `call` (the default): `timeoutMs` bounds the whole call, the wait for a pool connection
   * included. `statement`: only pg's `query_timeout`, from the moment the statement is sent — for
   * a caller that bounds its own wait (the rate limiter's `timeoutMs`), so that a queue for the
   * pool under heavy concurrency is not taken for a silent server.
   */
  readonly bound?: 'call' | 'statement';
  /** Stops waiting at once: the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** @defaultValue systemClock */
  readonly clock?: Clock;
  /** Turns a failure into the adapter's own typed error (its `cause` chained). */
  readonly toError: (failure: PostgresQueryFailure) => Error;
}

/**
 * Runs one statement with every wait bounded by `timeoutMs`:
 * - the statement carries pg's `query_timeout`, so a connection that goes silent after the
 *   statement was sent is failed by the driver, and `pool.query` then destroys it instead of
 *   returning it to the pool (a blackholed connection never comes back into use);
 * - our own timer bounds the whole call, taking a pool connection included (`pg.Pool` cannot
 *   cancel a connect in progress: give the pool `connectionTimeoutMillis` so that a connect to
 *   a silent server also frees its pool slot).
 *
 * `pool.query` listens for `error` on the client for as long as it holds it, so a connection
 * that dies mid-statement fails this call rather than the process. Used by every PostgreSQL
 * adapter of Bulwark for its one-statement operations.
 */
export function boundedQuery<Row extends QueryResultRow = QueryResultRow>(
  target: PostgresQueryTarget,
  config: QueryConfig,
  options: BoundedQueryOptions,
): Promise<QueryResult<Row>> {
  const { timeoutMs, signal, toError } = options;
  const clock = options.clock ?? systemClock;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<QueryResult<Row>>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    // Kept alive: someone awaits this call.
    const timer =
      options.bound === 'statement'
        ? undefined
        : clock.setTimeout(() => finish(() => reject(toError({ reason: 'timeout', timeoutMs }))), timeoutMs, {
            keepAlive: true,
          });
    signal?.addEventListener('abort', onAbort, { once: true });
    // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
    const bounded: QueryConfig & { query_timeout: number } = { ...config, query_timeout: timeoutMs };
    target.query<Row>(bounded).then(
      (result) => finish(() => resolve(result)),
      (error: unknown) =>
        finish(() =>
          reject(
            toError({
              reason: isReadTimeout(error) ? 'timeout' : 'failed',
              timeoutMs,
              cause: error,
            }),
          ),
        ),
    );
  });
}
