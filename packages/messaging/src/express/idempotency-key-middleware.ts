import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request as ExpressRequest } from 'express';
import { type HttpIdempotencyOptions, httpIdempotency } from '../idempotency/http/http-idempotency.js';

/** The parts of an Express or Connect request the middleware reads. */
export interface IdempotencyKeyRequest extends IncomingMessage {
  /** The parsed body, set by a body parser (e.g. `express.json()`) placed before the middleware. */
  body?: unknown;
  /** Express' original URL (Connect: `url`). */
  originalUrl?: string;
}

// The type parameter is `RequestType`, not `Request`: the bundled declarations (rollup-plugin-dts)
// would import Express' `Request` under its own name, shadowed by a parameter of that name.

/**
 * Options of {@link idempotencyKey}. The callbacks receive Express' `Request` (so
 * `request.get()` type-checks without annotations); a Connect app passes its own request type
 * as `RequestType`.
 */
export interface ExpressIdempotencyOptions<RequestType extends IdempotencyKeyRequest = ExpressRequest>
  extends HttpIdempotencyOptions {
  /**
   * The client a key belongs to, so one client never sees another's replay: typically the
   * authenticated user or tenant id. `undefined` means an anonymous client: all anonymous
   * requests share one scope, so return something per client wherever you can.
   * @example (request) => request.get('x-user-id')
   */
  scope: (request: RequestType) => string | undefined | Promise<string | undefined>;
}

/** An Express/Connect middleware. */
export type IdempotencyKeyMiddleware<RequestType extends IdempotencyKeyRequest = ExpressRequest> = (
  request: RequestType,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => Promise<void>;

type Write = ServerResponse['write'];
type End = ServerResponse['end'];

const toBuffer = (chunk: unknown, encoding: unknown): Buffer | undefined => {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return undefined;
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
};

/**
 * Express/Connect middleware for the HTTP `Idempotency-Key` header
 * (draft-ietf-httpapi-idempotency-key-header), for the routes you put it on. Place it after
 * the body parser: the body is part of the request's fingerprint. A missing key (where
 * required) or a malformed or too long one → 400; the key reused with another method, URL or
 * body → 422; the first request with the key still in flight → 409; a completed one → its
 * stored status, body and headers replayed with `Idempotent-Replayed: true`. 5xx responses and
 * errors are not stored, so the client may retry. Errors are `application/problem+json`. Keys
 * are scoped per client by `scope`.
 *
 * @example
 * ```ts
 * const idempotent = idempotencyKey({ store, scope: (request) => request.get('x-user-id') });
 * app.post('/orders', express.json(), idempotent, (request, response) => { response.status(201).json(order); });
 * ```
 */
export function idempotencyKey<RequestType extends IdempotencyKeyRequest = ExpressRequest>(
  options: ExpressIdempotencyOptions<RequestType>,
): IdempotencyKeyMiddleware<RequestType> {
  const core = httpIdempotency(options);
  return async (request, response, next) => {
    let decision: Awaited<ReturnType<typeof core.decide>>;
    try {
      decision = await core.decide({
        method: request.method ?? 'GET',
        url: request.originalUrl ?? request.url ?? '/',
        header: request.headers['idempotency-key'],
        body: request.body,
        scope: await options.scope(request),
      });
    } catch (error) {
      next(error);
      return;
    }
    if (decision.kind === 'pass') {
      next();
      return;
    }
    if (decision.kind === 'respond') {
      const { status, headers, body } = decision.response;
      response.statusCode = status;
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value as string | string[]);
      response.setHeader('content-length', body.byteLength);
      response.end(Buffer.from(body));
      return;
    }
    // Capture what the handler writes; hold the final `end` until the response is stored, so a
    // client that retries the moment it has the response gets the replay, not a 409.
    const chunks: Buffer[] = [];
    const write = response.write as (...args: unknown[]) => boolean;
    const end = response.end as (...args: unknown[]) => ServerResponse;
    let ended = false;
    response.write = function captureWrite(this: ServerResponse, ...args: unknown[]) {
      const chunk = toBuffer(args[0], args[1]);
      if (chunk) chunks.push(chunk);
      return write.apply(this, args);
    } as Write;
    response.end = function captureEnd(this: ServerResponse, ...args: unknown[]) {
      if (ended) return end.apply(this, args);
      ended = true;
      response.write = write as Write;
      response.end = end as End;
      const chunk = toBuffer(args[0], args[1]);
      if (chunk) chunks.push(chunk);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(response.getHeaders())) {
        if (value !== undefined) headers[name] = typeof value === 'number' ? String(value) : value;
      }
      decision
        .finish({ status: response.statusCode, headers, body: Buffer.concat(chunks) })
        .finally(() => end.apply(this, args));
      return this;
    } as End;
    // The client left before the response: keep the key for the handler's response (see detach).
    response.once('close', () => {
      if (!ended) decision.detach();
    });
    next();
  };
}
