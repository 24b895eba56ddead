import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  decideHttpRequest,
  type HttpRateLimitOptions,
  validateHttpRateLimitOptions,
} from '../rate-limit/http-rate-limit.js';

/**
 * Options of {@link rateLimitMiddleware}. `Request` is Node's `IncomingMessage` unless the `key`
 * function annotates its parameter (e.g. `(request: express.Request) => request.ip`).
 */
export type ExpressRateLimitOptions<Request extends IncomingMessage = IncomingMessage> = HttpRateLimitOptions<Request>;

/**
 * Express / Connect middleware that rate-limits the requests reaching it. Over the limit it
 * answers `429` (JSON body) with `Retry-After` and `RateLimit-*` headers; when the store is down it
 * fails open or answers `503`, as `whenStoreDown` says. Written against Node's `http` types, so it
 * works with Express 4 and 5 and with Connect.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { rateLimiter, tokenBucket } from '@bulwark/resilience';
 * import { rateLimitMiddleware } from '@bulwark/resilience/express';
 *
 * const app = express();
 * app.use('/login', rateLimitMiddleware({
 *   limiter: rateLimiter({ name: 'login', algorithm: tokenBucket({ capacity: 5, refillPerSecond: 0.2 }) }),
 *   key: (request) => request.socket.remoteAddress,
 *   whenStoreDown: 'reject',
 * }));
 * ```
 */
export function rateLimitMiddleware<Request extends IncomingMessage = IncomingMessage>(
  options: ExpressRateLimitOptions<Request>,
): (request: Request, response: ServerResponse, next: (error?: unknown) => void) => void {
  validateHttpRateLimitOptions('rateLimitMiddleware', options);
  return function bulwarkRateLimit(request, response, next) {
    decideHttpRequest(options, request).then((outcome) => {
      for (const [name, value] of outcome.headers) response.setHeader(name, value);
      if (outcome.kind === 'pass') return next();
      const body = JSON.stringify(outcome.body);
      response.statusCode = outcome.status;
      response.setHeader('Content-Type', 'application/json; charset=utf-8');
      response.setHeader('Content-Length', Buffer.byteLength(body));
      response.end(body);
    }, next);
  };
}
