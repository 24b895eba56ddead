/**
 * Resilience policies for Node.js services: retry, circuit breaker, timeout, bulkhead, fallback,
 * hedge and rate limiting, composed with `pipeline(...)`.
 *
 * @module @bulwark/resilience
 */

// Policies (issue: resilience policies).
export * from './backoff/index.js';
export * from './bulkhead/index.js';
export * from './circuit-breaker/index.js';
// Kernel: time, errors, the policy contract.
export * from './clock/index.js';
export * from './errors/index.js';
export * from './events/index.js';
export * from './fallback/index.js';
export * from './hedge/index.js';
export * from './pipeline/index.js';
export * from './policy/index.js';
// Rate limiting (issue: rate limiting).
export * from './rate-limit/index.js';
export * from './retry/index.js';
export * from './timeout/index.js';
