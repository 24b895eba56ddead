/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @module @bulwark/messaging/redis
 */
export type { RedisAsyncReplyStoreOptions } from './redis-async-reply-store.js';
export { redisAsyncReplyStore, redisAsyncReplyStoreDefaults } from './redis-async-reply-store.js';
export type { RedisIdempotencyStoreOptions } from './redis-idempotency-store.js';
export { redisIdempotencyStore, redisIdempotencyStoreDefaults } from './redis-idempotency-store.js';
export type { RedisStreamsTransportOptions } from './redis-streams-options.js';
export * from './redis-streams-transport.js';
