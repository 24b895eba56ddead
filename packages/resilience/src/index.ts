/**
 * Resilience policies for Node.js services: retry, circuit breaker, timeout, bulkhead, fallback,
 * hedge and rate limiting, composed with `pipeline(...)`.
 *
 * @module @bulwark/resilience
 */

export * from './backoff/index.js';
export * from './bulkhead/index.js';
export * from './cache/index.js';
export * from './circuit-breaker/index.js';
export * from './clock/index.js';
export * from './errors/index.js';
export * from './events/index.js';
export * from './fallback/index.js';
export * from './hedge/index.js';
export * from './pipeline/index.js';
export * from './policy/index.js';
export * from './rate-limit/index.js';
export * from './retry/index.js';
export * from './storable-text/index.js';
export * from './timeout/index.js';
