/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @module @bulwark/messaging/redis
 */
// Each adapter adds its export line here, one per line, grouped by issue.
// Async reply (issue: outbox and async reply).
export type { RedisAsyncReplyStoreOptions } from './redis-async-reply-store.js';
export { redisAsyncReplyStore, redisAsyncReplyStoreDefaults } from './redis-async-reply-store.js';
// Idempotency store (issue: idempotency and claim check).
export type { RedisIdempotencyStoreOptions } from './redis-idempotency-store.js';
export { redisIdempotencyStore, redisIdempotencyStoreDefaults } from './redis-idempotency-store.js';
// Transports (issue: transports).
export * from './redis-streams-transport.js';
