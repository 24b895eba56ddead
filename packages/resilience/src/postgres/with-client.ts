import type { Pool, PoolClient } from 'pg';

/** Options of {@link withClient} and {@link withTransaction}. */
export interface WithClientOptions {
  /** Checked before a client is taken from the pool. */
  readonly signal?: AbortSignal;
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
  const client = await pool.connect();
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
  return withClient(
    pool,
    async (client) => {
      await client.query('BEGIN');
      let result: T;
      try {
        result = await work(client);
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is gone: emitting keeps withClient's listener the one place that
          // decides to destroy the client.
          client.emit('error', rollbackError);
        }
        throw error;
      }
      await client.query('COMMIT');
      return result;
    },
    options,
  );
}
