// `--role gateway`: the API gateway in front of several API processes. Each request gets an id
// (`x-request-id`, kept if the client sent one); it goes to the upstreams in turn through
// resilientFetch, which keeps a breaker per upstream; health checks isolate an upstream that
// fails its `/health/ready` and reset it when it answers again; an idempotent request (or one
// with an `Idempotency-Key`) that fails on one upstream is retried on the next; a request whose
// connection was refused never reached an upstream, so it is retried on the next whatever its
// method; each client (by IP) is rate limited. `/metrics` serves attempts per upstream by outcome
// and each upstream's health and breaker state (see gateway-metrics.ts).
import { randomUUID } from 'node:crypto';
import { consecutive, constant, type RateLimiter, rateLimiter, slidingWindow } from '@bulwark/resilience';
import { rateLimitHook } from '@bulwark/resilience/fastify';
import { isNetworkError, type ResilientFetch, resilientFetch, resilientFetchDefaults } from '@bulwark/resilience/http';
import type { MeterProvider } from '@opentelemetry/api';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { closeKeepAliveOnClose } from '../http/close-keep-alive-on-close.js';
import { gatewayMetrics, type UpstreamStatus } from './gateway-metrics.js';

export interface GatewayOptions {
  /** Base URLs of the API processes, e.g. `http://127.0.0.1:3001`. */
  readonly upstreams: readonly string[];
  /** Requests per client per `rateWindowMs`. @defaultValue 600 */
  readonly rateLimit?: number;
  /** @defaultValue 60_000 */
  readonly rateWindowMs?: number;
  /** How often each upstream's `/health/ready` is asked. @defaultValue 1_000 */
  readonly healthIntervalMs?: number;
  /** Deadline of one attempt on one upstream. @defaultValue 10_000 */
  readonly attemptTimeoutMs?: number;
  /**
   * Where the gateway's instruments are created (a process running the OpenTelemetry SDK passes
   * its provider and serves them itself). @defaultValue a private provider served on `/metrics`
   */
  readonly meterProvider?: MeterProvider;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly http: ResilientFetch;
  /** Per upstream: whether its last health check passed, and its breaker's state. */
  status(): UpstreamStatus[];
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones fetch sets itself.
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
]);

function isConnectionRefused(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    if ((current as { code?: unknown }).code === 'ECONNREFUSED') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export function apiGateway(options: GatewayOptions): Gateway {
  const upstreams = options.upstreams.map((upstream) => new URL(upstream).origin);
  if (upstreams.length === 0) throw new Error('apiGateway needs at least one upstream');
  const healthy = new Map(upstreams.map((upstream) => [upstream, true]));
  let next = 0;
  const status = (): UpstreamStatus[] =>
    upstreams.map((upstream) => ({
      upstream,
      healthy: healthy.get(upstream) === true,
      circuit: http.circuitFor(upstream)?.state ?? 'none',
    }));
  const metrics = gatewayMetrics(status, options.meterProvider);
  // Counts every attempt by the upstream it went to (retries on another upstream included).
  const countedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const upstream = new URL(input instanceof Request ? input.url : input).origin;
    try {
      const response = await fetch(input, init);
      metrics.attempt(upstream, resilientFetchDefaults.transientStatus(response.status) ? 'transient_status' : 'ok');
      return response;
    } catch (error) {
      metrics.attempt(upstream, 'network_error');
      throw error;
    }
  };

  const http = resilientFetch({
    fetch: countedFetch,
    // Retried on the next upstream: every upstream gets its turn once.
    retry: { maxAttempts: upstreams.length, backoff: constant({ ms: 0 }) },
    attemptTimeoutMs: options.attemptTimeoutMs ?? 10_000,
    totalTimeoutMs: 30_000,
    circuitBreaker: { strategy: consecutive(3), halfOpenAfter: 2_000 },
    // Attempt n goes to the n-th upstream after the one the request was sent to, skipping those
    // whose breaker is open or isolated (unless all are).
    endpoint: ({ url, attempt }) => {
      const first = upstreams.indexOf(url.origin);
      const order = upstreams.map((_, offset) => upstreams[(first + offset) % upstreams.length] as string);
      const available = order.filter((upstream) => {
        const state = http.circuitFor(upstream)?.state;
        return state === 'closed' || state === 'half-open';
      });
      const candidates = available.length > 0 ? available : order;
      return `${candidates[(attempt - 1) % candidates.length]}${url.pathname}${url.search}`;
    },
  });

  const check = async (upstream: string): Promise<void> => {
    let ok = false;
    try {
      const response = await fetch(`${upstream}/health/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      ok = response.ok;
    } catch {
      ok = false;
    }
    healthy.set(upstream, ok);
    const breaker = http.circuitFor(upstream);
    if (!ok && breaker?.state !== 'isolated') breaker?.isolate();
    else if (ok && breaker?.state === 'isolated') breaker.reset();
  };
  let checking = false;
  const healthTimer = setInterval(() => {
    if (checking) return;
    checking = true;
    void Promise.all(upstreams.map(check)).finally(() => {
      checking = false;
    });
  }, options.healthIntervalMs ?? 1_000);
  healthTimer.unref();

  const limiter: RateLimiter = rateLimiter({
    algorithm: slidingWindow({ limit: options.rateLimit ?? 600, windowMs: options.rateWindowMs ?? 60_000 }),
  });
  const app = Fastify({
    genReqId: (request) => (request.headers['x-request-id'] as string | undefined) ?? randomUUID(),
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  closeKeepAliveOnClose(app);
  app.get('/health/live', async () => ({ status: 'up' }));
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.prometheusText();
    if (text === undefined) return reply.code(404).send({ status: 404, title: 'metrics are served by the process' });
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
  });
  app.get('/health/ready', async (_request, reply) => {
    const anyHealthy = [...healthy.values()].some(Boolean);
    return reply.code(anyHealthy ? 200 : 503).send({ status: anyHealthy ? 'ready' : 'no healthy upstream' });
  });

  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || hopByHop.has(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    headers.set('x-request-id', request.id);
    // The shop's processes log and answer under `x-correlation-id`: the same id, unless the client sent one.
    if (!headers.has('x-correlation-id')) headers.set('x-correlation-id', request.id);
    headers.set('x-forwarded-for', request.ip);
    const body = request.body instanceof Buffer && request.body.length > 0 ? request.body : undefined;
    const controller = new AbortController();
    // The response closing before it was written means the client went away: stop the attempts.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort(new Error('client went away'));
    });
    const start = next++ % upstreams.length;
    let lastError: unknown;
    // A refused connection never reached the upstream: safe to send elsewhere, whatever the method.
    for (let offset = 0; offset < upstreams.length; offset++) {
      const upstream = upstreams[(start + offset) % upstreams.length] as string;
      try {
        const response = await http(`${upstream}${request.url}`, {
          method: request.method,
          headers,
          ...(body ? { body } : {}),
          signal: controller.signal,
        });
        reply.code(response.status);
        response.headers.forEach((value, name) => {
          if (!hopByHop.has(name)) reply.header(name, value);
        });
        return reply.send(Buffer.from(await response.arrayBuffer()));
      } catch (error) {
        lastError = error;
        if (!isConnectionRefused(error)) break;
      }
    }
    const timedOut = (lastError as { code?: unknown })?.code === 'TIMEOUT';
    const status = timedOut ? 504 : isNetworkError(lastError) ? 502 : 503;
    return reply
      .code(status)
      .type('application/problem+json')
      .send({ title: timedOut ? 'Gateway Timeout' : 'Bad Gateway', status, detail: (lastError as Error).message });
  };
  app.register(async (scope) => {
    scope.addHook('onRequest', rateLimitHook({ limiter, key: (request) => request.ip, whenStoreDown: 'allow' }));
    scope.all('/api/*', forward);
  });

  return {
    app,
    http,
    status,
    async close() {
      clearInterval(healthTimer);
      await app.close();
      await limiter.close();
      await metrics.close();
    },
  };
}
