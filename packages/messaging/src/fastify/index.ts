/**
 * Fastify plugins.
 *
 * @module @bulwark/messaging/fastify
 */

export type { FastifyIdempotencyOptions, FastifyRouteIdempotency } from './idempotency-key-plugin.js';
export { idempotencyKeyPlugin } from './idempotency-key-plugin.js';
