/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @module @bulwark/resilience/redis
 */

export type { RedisCacheBusOptions } from './redis-cache-bus.js';
export { redisCacheBus } from './redis-cache-bus.js';
export { redisCacheLock } from './redis-cache-lock.js';
export type { RedisCacheStoreOptions } from './redis-cache-store.js';
export { redisCacheStore } from './redis-cache-store.js';
export type { RedisCircuitStateStoreOptions } from './redis-circuit-state-store.js';
export { redisCircuitStateStore } from './redis-circuit-state-store.js';
export type { RedisRateLimitStoreOptions } from './redis-rate-limit-store.js';
export { redisRateLimitStore } from './redis-rate-limit-store.js';
