/**
 * Express/Connect middleware.
 *
 * @module @bulwark/messaging/express
 */

export type {
  ExpressIdempotencyOptions,
  IdempotencyKeyMiddleware,
  IdempotencyKeyRequest,
} from './idempotency-key-middleware.js';
export { idempotencyKey } from './idempotency-key-middleware.js';
