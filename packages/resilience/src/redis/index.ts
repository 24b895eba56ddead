/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @module @bulwark/resilience/redis
 */
// Each adapter adds its export line here, one per line, grouped by issue.

export type { RedisCircuitStateStoreOptions } from './redis-circuit-state-store.js';
export { redisCircuitStateStore } from './redis-circuit-state-store.js';
// Rate limiting (issue: rate limiting).
export type { RedisRateLimitStoreOptions } from './redis-rate-limit-store.js';
export { redisRateLimitStore } from './redis-rate-limit-store.js';
