import type { Pool, PoolClient, QueryConfig } from 'pg';
import { type Clock, systemClock } from '../clock/clock.js';
import { TimeoutError } from '../timeout/timeout-errors.js';

/** Options of {@link withClient} and {@link withTransaction}. */
export interface WithClientOptions {
  /** Checked before a client is taken from the pool; aborts a wait for a connection. */
  readonly signal?: AbortSignal;
  /**
   * The longest the wait for a connection may take (a full pool, a server that does not answer):
   * past it the call rejects with `TimeoutError` and a connection that arrives later goes straight
   * back to the pool. `pg.Pool` cannot cancel a connect in progress, so give the pool
   * `connectionTimeoutMillis` too. @defaultValue no bound
   */
  readonly connectTimeoutMs?: number;
  /**
   * {@link withTransaction} only: pg's `query_timeout` for its `BEGIN`, `COMMIT` and `ROLLBACK`, so
   * a connection that goes silent cannot hold the call forever. A `BEGIN` or `COMMIT` that fails
   * releases the client as broken (its state is unknown). @defaultValue no bound
   */
  readonly queryTimeoutMs?: number;
  /** Times `connectTimeoutMs`. @defaultValue systemClock */
  readonly clock?: Clock;
}

/** Whether `error` is pg's own `query_timeout` running out (pg/lib/client.js). */
export function isReadTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

const connectionErrorCodes = new Set(['57P01', '57P02', '57P03', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

/**
 * Whether `error` says the connection itself is gone (terminated by the server, reset, refused, or
 * a client that already met a connection error), rather than that a statement was refused.
 */
export function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || connectionErrorCodes.has(code))) return true;
  return /not queryable|Connection terminated|connection error/i.test(error.message);
}

/** `pool.connect()`, given up after `connectTimeoutMs` or when `signal` aborts. */
function connect(pool: Pool, options: WithClientOptions): Promise<PoolClient> {
  const { signal, connectTimeoutMs } = options;
  if (connectTimeoutMs === undefined && signal === undefined) return pool.connect();
  const clock = options.clock ?? systemClock;
  return new Promise<PoolClient>((resolve, reject) => {
    let settled = false;
    const giveUp = (reason: unknown) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(reason);
    };
    const onAbort = () => giveUp(signal?.reason);
    const timer =
      connectTimeoutMs === undefined
        ? undefined
        : clock.setTimeout(() => giveUp(new TimeoutError(connectTimeoutMs)), connectTimeoutMs, { keepAlive: true });
    signal?.addEventListener('abort', onAbort, { once: true });
    pool.connect().then(
      (client) => {
        // Nobody waits for it any more: hand it back unused.
        if (settled) client.release();
        else {
          settled = true;
          clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(client);
        }
      },
      (error: unknown) => giveUp(error),
    );
  });
}

/**
 * Runs `work` with a client checked out of `pool`, and gives it back afterwards.
 *
 * While a client is out of the pool, `pg` removes the pool's own `error` listener, so a connection
 * that dies between two queries (a server restart, `pg_terminate_backend`, a cut network) emits an
 * `error` event that nobody handles, and the process exits. This helper listens for `error` for as
 * long as it holds the client, and releases a client that errored with that error, so the pool
 * destroys it instead of handing a dead connection to the next caller. Every Bulwark adapter that
 * holds a client goes through it; use it wherever your own code calls `pool.connect()`.
 *
 * @example
 * ```ts
 * const count = await withClient(pool, async (client) => {
 *   const result = await client.query('SELECT count(*) FROM orders');
 *   return Number(result.rows[0].count);
 * });
 * ```
 */
export async function withClient<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: WithClientOptions = {},
): Promise<T> {
  options.signal?.throwIfAborted();
  const client = await connect(pool, options);
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on('error', onError);
  try {
    return await work(client);
  } finally {
    client.off('error', onError);
    // A client whose connection ended is also dropped by the pool (it checks `_queryable`), so only
    // an error seen while held needs passing on.
    client.release(broken);
  }
}

/**
 * {@link withClient} inside a transaction: `BEGIN`, then `work`, then `COMMIT`; `ROLLBACK` when
 * `work` throws (the error is rethrown). A client whose `ROLLBACK` fails is released as broken.
 *
 * @example
 * ```ts
 * await withTransaction(pool, async (client) => {
 *   await client.query('INSERT INTO orders (id) VALUES ($1)', [orderId]);
 *   await outbox.add(client, { topic: 'orders', type: 'order-placed', payload: { orderId } });
 * });
 * ```
 */
export function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: WithClientOptions = {},
): Promise<T> {
  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const statement = (text: string): QueryConfig =>
    options.queryTimeoutMs === undefined ? { text } : ({ text, query_timeout: options.queryTimeoutMs } as QueryConfig);
  /** Runs BEGIN or COMMIT; a failure leaves the connection in an unknown state, so it is destroyed. */
  const control = async (client: PoolClient, text: string) => {
    try {
      await client.query(statement(text));
    } catch (error) {
      // Emitting keeps withClient's listener the one place that decides to destroy the client.
      client.emit('error', error);
      throw error;
    }
  };
  return withClient(
    pool,
    async (client) => {
      await control(client, 'BEGIN');
      let connectionLost = false;
      const onError = () => {
        connectionLost = true;
      };
      client.on('error', onError);
      let result: T;
      try {
        result = await work(client);
      } catch (error) {
        // A dead connection, or one whose statement timed out (still busy with it), cannot roll
        // back: a ROLLBACK would only wait behind it. Destroying it rolls back on the server.
        if (connectionLost || isReadTimeout(error)) client.emit('error', error);
        else {
          try {
            await client.query(statement('ROLLBACK'));
          } catch (rollbackError) {
            // The connection is gone.
            client.emit('error', rollbackError);
          }
        }
        throw error;
      } finally {
        client.off('error', onError);
      }
      await control(client, 'COMMIT');
      return result;
    },
    options,
  );
}
