import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request as ExpressRequest } from 'express';
import {
  decideHttpRequest,
  type HttpRateLimitOptions,
  validateHttpRateLimitOptions,
} from '../rate-limit/http-rate-limit.js';

// The type parameter is `RequestType`, not `Request`: the bundled declarations (rollup-plugin-dts)
// would import Express' `Request` under its own name, shadowed by a parameter of that name.

/**
 * Options of {@link rateLimitMiddleware}. The callbacks receive Express' `Request` (so
 * `request.ip` and `request.get()` type-check without annotations); a Connect app passes its own
 * request type as `RequestType`.
 */
export type ExpressRateLimitOptions<RequestType extends IncomingMessage = ExpressRequest> =
  HttpRateLimitOptions<RequestType>;

/**
 * Express / Connect middleware that rate-limits the requests reaching it. Over the limit it
 * answers `429` with an `application/problem+json` body (or what `limitedResponse` builds),
 * `Retry-After` and the rate-limit headers of `headers` (the newest draft's `RateLimit` and
 * `RateLimit-Policy` by default); when the store is down it fails open or answers `503`, as
 * `whenStoreDown` says. Written against Node's `http` types, so it works with Express 4 and 5 and
 * with Connect.
 *
 * Mount it before the `Idempotency-Key` middleware only if replays and refused keys (400, 409,
 * 422) should use quota too; see the rate limiting guide.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { ipKey, rateLimiter, tokenBucket } from '@bulwark/resilience';
 * import { rateLimitMiddleware } from '@bulwark/resilience/express';
 *
 * const app = express();
 * app.use('/login', rateLimitMiddleware({
 *   limiter: rateLimiter({ name: 'login', algorithm: tokenBucket({ capacity: 5, refillPerSecond: 0.2 }) }),
 *   key: (request) => ipKey(request.ip),
 *   whenStoreDown: 'reject',
 * }));
 * ```
 */
export function rateLimitMiddleware<RequestType extends IncomingMessage = ExpressRequest>(
  options: ExpressRateLimitOptions<RequestType>,
): (request: RequestType, response: ServerResponse, next: (error?: unknown) => void) => void {
  validateHttpRateLimitOptions('rateLimitMiddleware', options);
  return function bulwarkRateLimit(request, response, next) {
    decideHttpRequest(options, request).then((outcome) => {
      for (const [name, value] of outcome.headers) response.setHeader(name, value);
      if (outcome.kind === 'pass') return next();
      response.statusCode = outcome.status;
      response.setHeader('Content-Type', outcome.contentType);
      response.setHeader('Content-Length', Buffer.byteLength(outcome.body));
      response.end(outcome.body);
    }, next);
  };
}
