/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @module @bulwark/resilience/postgres
 */

export { migrateUnderLock } from './migrate-under-lock.js';
export type {
  PostgresRateLimitStore,
  PostgresRateLimitStoreOptions,
  PostgresRateLimitTableOptions,
} from './postgres-rate-limit-store.js';
export { postgresRateLimitStore, rateLimitMigrationSql } from './postgres-rate-limit-store.js';
export type { WithClientOptions } from './with-client.js';
export { withClient, withTransaction } from './with-client.js';
