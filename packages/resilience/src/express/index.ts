/**
 * Express/Connect middleware.
 *
 * @module @bulwark/resilience/express
 */

export type { ExpressRateLimitOptions } from './rate-limit-middleware.js';
export { rateLimitMiddleware } from './rate-limit-middleware.js';
