/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @module @bulwark/resilience/postgres
 */

export type { BoundedQueryOptions, PostgresQueryFailure, PostgresQueryTarget } from './bounded-query.js';
export { boundedQuery } from './bounded-query.js';
export type {
  PostgresRateLimitSql,
  PostgresRateLimitStore,
  PostgresRateLimitStoreOptions,
  PostgresRateLimitTableOptions,
} from './postgres-rate-limit-store.js';
export {
  postgresRateLimitSql,
  postgresRateLimitStore,
  postgresRateLimitStoreDefaults,
} from './postgres-rate-limit-store.js';
export type { WithClientOptions } from './with-client.js';
export { isConnectionLost, isReadTimeout, withClient, withTransaction } from './with-client.js';
