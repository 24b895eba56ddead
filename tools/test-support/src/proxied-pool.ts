import pg from 'pg';
import type { FaultProxy } from './fault-proxy.js';

/** A pg Pool through a fault proxy, configured as Bulwark's PostgreSQL adapters recommend. */
export interface ProxiedPool {
  readonly pool: pg.Pool;
  /** `error` events the pool emitted (idle clients whose connection died), as a user's listener would see them. */
  readonly errors: () => number;
}

/**
 * A pool on `proxy.url(url)` with `connectionTimeoutMillis` (a connect to a silent server gives
 * its slot back) and an `error` listener (pg emits one when an idle client's connection dies).
 */
export function proxiedPool(proxy: FaultProxy, url: string, options: pg.PoolConfig = {}): ProxiedPool {
  const pool = new pg.Pool({ connectionString: proxy.url(url), max: 4, connectionTimeoutMillis: 1_000, ...options });
  let errors = 0;
  pool.on('error', () => {
    errors += 1;
  });
  return { pool, errors: () => errors };
}
