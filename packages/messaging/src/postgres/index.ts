/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @packageDocumentation
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Idempotency store (issue: idempotency and claim check).
export type {
  PostgresIdempotencySql,
  PostgresIdempotencyStore,
  PostgresIdempotencyStoreOptions,
} from './postgres-idempotency-store.js';
export {
  postgresIdempotencySql,
  postgresIdempotencyStore,
  postgresIdempotencyStoreDefaults,
} from './postgres-idempotency-store.js';
