/**
 * Redis adapters (the user's `ioredis` client).
 *
 * @packageDocumentation
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Rate limiting (issue: rate limiting).
export type { RedisRateLimitStoreOptions } from './redis-rate-limit-store.js';
export { redisRateLimitStore } from './redis-rate-limit-store.js';
