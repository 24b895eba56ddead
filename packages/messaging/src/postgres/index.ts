/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @module @bulwark/messaging/postgres
 */

export type { WithClientOptions } from '@bulwark/resilience/postgres';
export { withClient, withTransaction } from '@bulwark/resilience/postgres';
export type {
  PostgresAsyncReplySql,
  PostgresAsyncReplyStore,
  PostgresAsyncReplyStoreOptions,
} from './postgres-async-reply-store.js';
export {
  postgresAsyncReplySql,
  postgresAsyncReplyStore,
  postgresAsyncReplyStoreDefaults,
} from './postgres-async-reply-store.js';
export type {
  PostgresDeadLetterSql,
  PostgresDeadLetterStore,
  PostgresDeadLetterStoreOptions,
} from './postgres-dead-letter-store.js';
export {
  postgresDeadLetterSql,
  postgresDeadLetterStore,
  postgresDeadLetterStoreDefaults,
} from './postgres-dead-letter-store.js';
export type {
  PostgresEventLog,
  PostgresEventLogExecutor,
  PostgresEventLogOptions,
  PostgresEventLogSql,
} from './postgres-event-log.js';
export { postgresEventLog, postgresEventLogDefaults, postgresEventLogSql } from './postgres-event-log.js';
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
export type {
  InboxContext,
  InboxHandlerOptions,
  PostgresInbox,
  PostgresInboxOptions,
  PostgresInboxSql,
} from './postgres-inbox.js';
export { postgresInbox, postgresInboxDefaults, postgresInboxSql } from './postgres-inbox.js';
export type {
  PostgresOutbox,
  PostgresOutboxExecutor,
  PostgresOutboxLag,
  PostgresOutboxMigrateOptions,
  PostgresOutboxOptions,
  PostgresOutboxRelayOptions,
  PostgresOutboxSql,
} from './postgres-outbox.js';
export { postgresOutbox, postgresOutboxSql } from './postgres-outbox.js';
export { OutboxPartitionsMismatchError } from './postgres-outbox-fleet.js';
export type { PostgresStoreErrorCode } from './postgres-store-error.js';
export { PostgresStoreError } from './postgres-store-error.js';
export type { PostgresGroupSnapshot, PostgresTransport } from './postgres-transport.js';
export { postgresTransport } from './postgres-transport.js';
export type { PostgresTransportOptions } from './postgres-transport-options.js';
export { postgresTransportDefaults } from './postgres-transport-options.js';
export type { PostgresTransportSql } from './postgres-transport-sql.js';
export { postgresTransportSql } from './postgres-transport-sql.js';
