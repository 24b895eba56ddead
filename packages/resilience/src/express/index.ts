/**
 * Express/Connect middleware.
 *
 * @module @bulwark/resilience/express
 */
// Each adapter adds its export line here, one per line, grouped by issue.

// Rate limiting (issue: rate limiting).
export type { ExpressRateLimitOptions } from './rate-limit-middleware.js';
export { rateLimitMiddleware } from './rate-limit-middleware.js';
