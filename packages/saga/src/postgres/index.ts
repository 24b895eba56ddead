/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @module @bulwark/saga/postgres
 */

export type { PostgresParticipantStoreOptions } from './postgres-participant-store.js';
export { postgresParticipantStore } from './postgres-participant-store.js';
export type {
  PostgresQueryable,
  PostgresSagaLog,
  PostgresSagaLogOptions,
  PostgresSagaLogSql,
} from './postgres-saga-log.js';
export { postgresSagaLog, postgresSagaLogDefaults, postgresSagaLogSql } from './postgres-saga-log.js';
