import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type HttpIdempotencyDecision,
  type HttpIdempotencyOptions,
  httpIdempotency,
} from '../idempotency/http/http-idempotency.js';

/** Per-route settings, under the route's `config.idempotency`. */
export interface FastifyRouteIdempotency {
  /** Overrides the plugin's `required` for this route. */
  required?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Turns the `Idempotency-Key` handling of {@link idempotencyKeyPlugin} on for this route
     * (`true`, or per-route settings).
     */
    idempotency?: boolean | FastifyRouteIdempotency;
  }
}

/** Options of {@link idempotencyKeyPlugin}. */
export interface FastifyIdempotencyOptions extends HttpIdempotencyOptions {
  /**
   * The client a key belongs to, so one client never sees another's replay: typically the
   * authenticated user or tenant id. Return the same value for every request of one client.
   * `undefined` means an anonymous client: all anonymous requests share one scope, so return
   * something per client wherever you can.
   * @example (request) => request.user.id
   */
  scope: (request: FastifyRequest) => string | undefined | Promise<string | undefined>;
}

type Proceed = Extract<HttpIdempotencyDecision, { kind: 'proceed' }>;

/**
 * Fastify plugin for the HTTP `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header),
 * on the routes whose `config.idempotency` is set. A missing key (where required) or a malformed
 * or too long one → 400; the key reused with another method, URL or body → 422; the first
 * request with the key still in flight → 409; a completed one → its stored status, body and
 * headers replayed with `Idempotent-Replayed: true`. 5xx responses and thrown errors are not
 * stored, so the client may retry. Errors are `application/problem+json`. Keys are scoped per
 * client by `scope`. Registered without encapsulation, so it sees the routes of the instance it
 * is registered on.
 *
 * @example
 * ```ts
 * await app.register(idempotencyKeyPlugin, { store, scope: (request) => request.headers['x-user-id'] as string });
 * app.post('/orders', { config: { idempotency: true } }, async (request, reply) => reply.code(201).send(order));
 * ```
 */
export async function idempotencyKeyPlugin(
  fastify: FastifyInstance,
  options: FastifyIdempotencyOptions,
): Promise<void> {
  const core = httpIdempotency(options);
  const routeCores = new Map<boolean, ReturnType<typeof httpIdempotency>>([[core.required, core]]);
  const coreFor = (required: boolean) => {
    let found = routeCores.get(required);
    if (!found) {
      found = httpIdempotency({ ...options, required });
      routeCores.set(required, found);
    }
    return found;
  };
  const inFlight = new WeakMap<FastifyRequest, Proceed>();

  fastify.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const setting = request.routeOptions.config?.idempotency;
    if (!setting) return;
    const required = typeof setting === 'object' && setting.required !== undefined ? setting.required : core.required;
    const decision = await coreFor(required).decide({
      method: request.method,
      url: request.url,
      header: request.headers['idempotency-key'],
      body: request.body,
      scope: await options.scope(request),
    });
    if (decision.kind === 'pass') return;
    if (decision.kind === 'proceed') {
      inFlight.set(request, decision);
      return;
    }
    const { response } = decision;
    reply.code(response.status);
    for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
    return reply.send(Buffer.from(response.body));
  });

  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const decision = inFlight.get(request);
    if (!decision) return payload;
    inFlight.delete(request);
    let body: Uint8Array;
    if (payload === null || payload === undefined) body = new Uint8Array();
    else if (typeof payload === 'string') body = Buffer.from(payload, 'utf8');
    else if (payload instanceof Uint8Array) body = payload;
    else {
      // A stream cannot be stored without buffering it whole; release so a retry runs again.
      await decision.abandon();
      return payload;
    }
    await decision.finish({ status: reply.statusCode, headers: reply.getHeaders() as Record<string, string>, body });
    return payload;
  });

  // The response went out without onSend seeing it (a hook failed before): free the key.
  fastify.addHook('onResponse', async (request: FastifyRequest) => {
    const decision = inFlight.get(request);
    if (!decision) return;
    inFlight.delete(request);
    await decision.abandon();
  });
  // The client left: the handler may still finish its effect, so keep the key for its response
  // (onSend still runs) rather than let a retry run it again (see detach).
  fastify.addHook('onRequestAbort', async (request: FastifyRequest) => {
    inFlight.get(request)?.detach();
  });
}

// What `fastify-plugin` does: no encapsulation, so the hooks apply to the routes of the parent.
Object.assign(idempotencyKeyPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@bulwark/messaging idempotency-key',
});
