import pg from 'pg';

/** A pg Pool configured as Bulwark's PostgreSQL adapters recommend, with its `error` events counted. */
export interface FaultPool {
  readonly pool: pg.Pool;
  /** `error` events the pool emitted (idle clients whose connection died), as a user's listener would see them. */
  readonly errors: () => number;
}

/**
 * A pool on `url` (a fault proxy's or a private server's) with `connectionTimeoutMillis` (a
 * connect to a silent server gives its slot back) and an `error` listener (pg emits one when an
 * idle client's connection dies).
 */
export function faultPool(url: string, options: pg.PoolConfig = {}): FaultPool {
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 3_000, ...options });
  let errors = 0;
  pool.on('error', () => {
    errors += 1;
  });
  return { pool, errors: () => errors };
}
