/**
 * PostgreSQL adapters (the user's `pg` Pool), each with `migrate()` and exported SQL.
 *
 * @module @bulwark/messaging/postgres
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Async reply (issue: outbox and async reply).
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
// Dead letters (issue: transports).
export type { PostgresDeadLetterSql, PostgresDeadLetterStore } from './postgres-dead-letter-store.js';
export { postgresDeadLetterSql, postgresDeadLetterStore } from './postgres-dead-letter-store.js';
export type { InboxContext, InboxHandlerOptions, PostgresInbox, PostgresInboxSql } from './postgres-inbox.js';
export { postgresInbox, postgresInboxSql } from './postgres-inbox.js';
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
// Transactional outbox (issue: outbox).
export type {
  PostgresOutbox,
  PostgresOutboxExecutor,
  PostgresOutboxLag,
  PostgresOutboxOptions,
  PostgresOutboxRelayOptions,
  PostgresOutboxSql,
} from './postgres-outbox.js';
export { postgresOutbox, postgresOutboxSql } from './postgres-outbox.js';
// Transport (issue: transports).
export type {
  PostgresGroupSnapshot,
  PostgresTransport,
  PostgresTransportOptions,
  PostgresTransportSql,
} from './postgres-transport.js';
export { postgresTransport, postgresTransportDefaults, postgresTransportSql } from './postgres-transport.js';
