import type { Pool } from 'pg';
import { withTransaction } from '../../postgres/with-client.js';

/**
 * Runs a migration in one transaction under a transaction-level advisory lock named `lockName`,
 * so that instances starting together migrate one after the other: `CREATE … IF NOT EXISTS`
 * alone can still collide in the catalog when two run at once. The one `migrate()` of every
 * Bulwark PostgreSQL adapter.
 */
export async function migrateUnderLock(
  pool: Pool,
  lockName: string,
  sql: string,
  options?: { readonly signal?: AbortSignal },
): Promise<void> {
  await withTransaction(
    pool,
    async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName]);
      await client.query(sql);
    },
    options,
  );
}
