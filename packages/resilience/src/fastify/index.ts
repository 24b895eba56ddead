/**
 * Fastify plugins.
 *
 * @module @bulwark/resilience/fastify
 */

export type { FastifyRateLimitOptions } from './rate-limit-plugin.js';
export { rateLimitHook, rateLimitPlugin } from './rate-limit-plugin.js';
