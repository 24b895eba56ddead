/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @module @bulwark/resilience/postgres
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Rate limiting (issue: rate limiting).
export type {
  PostgresRateLimitStore,
  PostgresRateLimitStoreOptions,
  PostgresRateLimitTableOptions,
} from './postgres-rate-limit-store.js';
export { postgresRateLimitStore, rateLimitMigrationSql } from './postgres-rate-limit-store.js';
