/**
 * Fastify plugins.
 *
 * @module @bulwark/resilience/fastify
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Rate limiting (issue: rate limiting).
export type { FastifyRateLimitOptions } from './rate-limit-plugin.js';
export { rateLimitHook, rateLimitPlugin } from './rate-limit-plugin.js';
