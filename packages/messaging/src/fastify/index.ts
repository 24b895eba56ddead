/**
 * Fastify plugins.
 *
 * @module @bulwark/messaging/fastify
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Idempotency-Key (issue: idempotency and claim check).
export type { FastifyIdempotencyOptions, FastifyRouteIdempotency } from './idempotency-key-plugin.js';
export { idempotencyKeyPlugin } from './idempotency-key-plugin.js';
