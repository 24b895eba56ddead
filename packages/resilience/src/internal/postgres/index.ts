/**
 * Internal: PostgreSQL helpers shared by the Bulwark packages (table names, locked migrations).
 * Not for applications; no compatibility promise, may change in any release.
 *
 * @internal
 * @module @bulwark/resilience/internal/postgres
 */

export { migrateUnderLock } from './migrate-under-lock.js';
export type { PostgresTableName, PostgresTableNameCheck } from './postgres-table-name.js';
export { isPlainPostgresIdentifier, postgresTableName, quotePostgresIdentifier } from './postgres-table-name.js';
