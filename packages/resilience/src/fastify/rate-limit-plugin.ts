import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import {
  decideHttpRequest,
  type HttpRateLimitOptions,
  validateHttpRateLimitOptions,
} from '../rate-limit/http-rate-limit.js';

/** Options of {@link rateLimitPlugin} and {@link rateLimitHook}. */
export type FastifyRateLimitOptions = HttpRateLimitOptions<FastifyRequest>;

/**
 * A Fastify `onRequest` hook that rate-limits the routes it is attached to: use it per route
 * (`{ onRequest: rateLimitHook(options) }`) or for a whole scope through {@link rateLimitPlugin}.
 * Over the limit it answers `429` with an `application/problem+json` body (or what
 * `limitedResponse` builds), `Retry-After` and the rate-limit headers of `headers` (the newest
 * draft's `RateLimit` and `RateLimit-Policy` by default); when the store is down it fails open or
 * answers `503`, as `whenStoreDown` says.
 */
export function rateLimitHook(options: FastifyRateLimitOptions): onRequestAsyncHookHandler {
  validateHttpRateLimitOptions('rateLimitHook', options);
  return async function bulwarkRateLimit(request: FastifyRequest, reply: FastifyReply) {
    const outcome = await decideHttpRequest(options, request);
    for (const [name, value] of outcome.headers) reply.header(name, value);
    if (outcome.kind === 'respond')
      // A Buffer, so Fastify sends the content type as given (a string would get a charset added).
      return reply.code(outcome.status).type(outcome.contentType).send(Buffer.from(outcome.body));
  };
}

/**
 * A Fastify plugin limiting every route of the instance it is registered on (it is not
 * encapsulated, like a `fastify-plugin`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { ipKey, rateLimiter, slidingWindow } from '@bulwark/resilience';
 * import { redisRateLimitStore } from '@bulwark/resilience/redis';
 * import { rateLimitPlugin } from '@bulwark/resilience/fastify';
 *
 * const app = Fastify();
 * await app.register(rateLimitPlugin, {
 *   limiter: rateLimiter({ name: 'api', algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }), store: redisRateLimitStore(redis) }),
 *   key: (request) => ipKey(request.ip),
 *   whenStoreDown: 'allow',
 *   onStoreDown: (error) => app.log.warn({ err: error }, 'rate limiting is failing open'),
 * });
 * ```
 */
export const rateLimitPlugin = Object.assign(
  async function bulwarkRateLimitPlugin(fastify: FastifyInstance, options: FastifyRateLimitOptions): Promise<void> {
    fastify.addHook('onRequest', rateLimitHook(options));
  },
  // Fastify's documented opt-out of encapsulation (what fastify-plugin sets): the hook applies to
  // the instance the plugin is registered on, not only to a child context.
  { [Symbol.for('skip-override')]: true },
);
