/**
 * Express/Connect middleware.
 *
 * @module @bulwark/messaging/express
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Idempotency-Key (issue: idempotency and claim check).
export type {
  ExpressIdempotencyOptions,
  IdempotencyKeyMiddleware,
  IdempotencyKeyRequest,
} from './idempotency-key-middleware.js';
export { idempotencyKey } from './idempotency-key-middleware.js';
