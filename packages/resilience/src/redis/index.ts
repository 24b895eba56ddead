/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @module @bulwark/resilience/redis
 */

export type { RedisCircuitStateStoreOptions } from './redis-circuit-state-store.js';
export { redisCircuitStateStore } from './redis-circuit-state-store.js';
export type { RedisRateLimitStoreOptions } from './redis-rate-limit-store.js';
export { redisRateLimitStore } from './redis-rate-limit-store.js';
