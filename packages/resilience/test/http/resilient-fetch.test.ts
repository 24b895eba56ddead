// resilientFetch against real HTTP servers (node:http on loopback) started by each test; time
// (backoff, Retry-After, timeouts, hedging) runs on the controllable clock.
import {
  BrokenCircuitError,
  consecutive,
  constant,
  InvalidOptionsError,
  memoryRateLimitStore,
  RateLimitedError,
  rateLimiter,
  TimeoutError,
  tokenBucket,
} from '@bulwark/resilience';
import {
  type HttpCircuitStateChangeEvent,
  type HttpGiveUpEvent,
  type HttpRetryEvent,
  HttpStatusError,
  RequestBodyNotReplayableError,
  resilientFetch,
} from '@bulwark/resilience/http';
import { manualClock } from '@bulwark/resilience/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answer, startTestServer, type TestHandler, type TestServer } from './fixtures/test-server.js';

const servers: TestServer[] = [];
async function server(handler: TestHandler): Promise<TestServer> {
  const started = await startTestServer(handler);
  servers.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((started) => started.close()));
});

const start = Date.UTC(2026, 11, 6, 12, 0, 0);
const until = (condition: () => boolean) => vi.waitFor(() => expect(condition()).toBe(true), { timeout: 5_000 });

describe('resilientFetch: Retry-After', () => {
  it('waits the seconds of a 429 Retry-After before the next attempt', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response, { index }) =>
      index === 1 ? answer(response, 429, { 'retry-after': '3' }) : answer(response, 200),
    );
    const http = resilientFetch({ clock });
    const retries: HttpRetryEvent[] = [];
    http.onRetry((event) => retries.push(event));
    const pending = http(api.url);
    await until(() => retries.length === 1);
    expect(retries[0]).toMatchObject({ method: 'GET', url: api.url, attempt: 2, delayMs: 3_000 });
    expect(retries[0]?.error).toMatchObject({ status: 429 });
    await clock.advanceAsync(2_999);
    expect(api.requests).toHaveLength(1);
    await clock.advanceAsync(1);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('status 200');
    expect(api.requests).toHaveLength(2);
  });

  it('waits until the HTTP date of a 429 Retry-After', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response, { index }) =>
      index === 1
        ? answer(response, 429, { 'retry-after': new Date(start + 7_000).toUTCString() })
        : answer(response, 200),
    );
    const http = resilientFetch({ clock });
    const retries: HttpRetryEvent[] = [];
    http.onRetry((event) => retries.push(event));
    const pending = http(api.url);
    await until(() => retries.length === 1);
    expect(retries[0]?.delayMs).toBe(7_000);
    await clock.advanceAsync(6_999);
    expect(api.requests).toHaveLength(1);
    await clock.advanceAsync(1);
    expect((await pending).status).toBe(200);
  });

  it('reads RateLimit-Reset and the reset of a RateLimit field', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response, { index }) => {
      if (index === 1) answer(response, 503, { 'ratelimit-reset': '4' });
      else if (index === 2) answer(response, 429, { ratelimit: '"default";r=0;t=2' });
      else answer(response, 200);
    });
    const http = resilientFetch({ clock, retry: { maxAttempts: 3 } });
    const delays: number[] = [];
    http.onRetry(({ delayMs }) => delays.push(delayMs));
    const pending = http(api.url);
    await until(() => delays.length === 1);
    await clock.advanceAsync(4_000);
    await until(() => delays.length === 2);
    await clock.advanceAsync(2_000);
    expect((await pending).status).toBe(200);
    expect(delays).toEqual([4_000, 2_000]);
  });

  it('gives the 429 back at once when its Retry-After would end after the total timeout', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response) => answer(response, 429, { 'retry-after': '60' }));
    const http = resilientFetch({ clock, totalTimeoutMs: 10_000 });
    const giveUps: HttpGiveUpEvent[] = [];
    http.onGiveUp((event) => giveUps.push(event));
    const response = await http(api.url);
    expect(response.status).toBe(429);
    expect(await response.text()).toBe('status 429');
    expect(api.requests).toHaveLength(1);
    expect(giveUps).toMatchObject([{ attempts: 1, reason: 'max-elapsed', method: 'GET', url: api.url }]);
  });

  it("throws an HttpStatusError with status, headers and the parsed Retry-After with statusErrors: 'throw'", async () => {
    const api = await server((_request, response) => answer(response, 503, { 'retry-after': '120' }));
    const http = resilientFetch({ statusErrors: 'throw', totalTimeoutMs: 5_000 });
    const error = await http(api.url).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 503, retryAfterMs: 120_000, method: 'GET' });
    expect((error as HttpStatusError).headers.get('retry-after')).toBe('120');
    expect(await (error as HttpStatusError).response.text()).toBe('status 503');
  });

  it('reads the body of a retried response, so the next attempt reuses its connection', async () => {
    const clock = manualClock(start);
    // A body larger than the socket buffers: its connection is free only once it has been read.
    const largeBody = 'x'.repeat(131_072);
    const api = await server((_request, response, { index }) => {
      if (index < 3) response.writeHead(503).end(largeBody);
      else answer(response, 200);
    });
    const http = resilientFetch({ clock, retry: { backoff: constant({ ms: 100 }) } });
    let retries = 0;
    http.onRetry(() => {
      retries += 1;
    });
    const pending = http(api.url);
    await until(() => retries === 1);
    await clock.advanceAsync(100);
    await until(() => retries === 2);
    await clock.advanceAsync(100);
    const response = await pending;
    expect(response.status).toBe(200);
    await response.text();
    expect(api.requests.map(({ connection }) => connection)).toEqual([1, 1, 1]);
  });
});

describe('resilientFetch: circuit breaker per origin', () => {
  it('a 503 storm opens the breaker of its origin; another origin keeps working', async () => {
    const clock = manualClock(start);
    const failing = await server((_request, response) => answer(response, 503));
    const healthy = await server((_request, response) => answer(response, 200));
    const http = resilientFetch({
      clock,
      retry: false,
      circuitBreaker: { strategy: consecutive(3), halfOpenAfter: 5_000 },
    });
    const changes: HttpCircuitStateChangeEvent[] = [];
    http.onStateChange((event) => changes.push(event));
    for (let index = 0; index < 3; index++) expect((await http(failing.url)).status).toBe(503);
    await expect(http(failing.url)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(failing.requests).toHaveLength(3);
    expect((await http(healthy.url)).status).toBe(200);
    expect(changes).toMatchObject([{ key: failing.origin, from: 'closed', to: 'open', reason: 'failures' }]);
    const snapshot = http.snapshot();
    expect(snapshot.endpoints.find(({ key }) => key === failing.origin)?.circuit?.state).toBe('open');
    expect(snapshot.endpoints.find(({ key }) => key === healthy.origin)?.circuit?.state).toBe('closed');
    // After halfOpenAfter one probe is let through; the origin still fails, so it opens again.
    await clock.advanceAsync(5_000);
    expect((await http(failing.url)).status).toBe(503);
    expect(failing.requests).toHaveLength(4);
    await expect(http(failing.url)).rejects.toBeInstanceOf(BrokenCircuitError);
  });

  it("keeps one breaker per route with key: 'route'", async () => {
    const api = await server((request, response) => answer(response, request.url.startsWith('/broken') ? 500 : 200));
    const http = resilientFetch({ retry: false, circuitBreaker: { key: 'route', strategy: consecutive(2) } });
    await http(`${api.origin}/broken?x=1`);
    await http(`${api.origin}/broken?x=2`);
    await expect(http(`${api.origin}/broken`)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect((await http(`${api.origin}/fine`)).status).toBe(200);
    expect(http.circuitFor(`${api.origin}/broken`)?.state).toBe('open');
  });
});

describe('resilientFetch: timeouts', () => {
  it('abandons a slow attempt at attemptTimeoutMs and retries', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response, { index }) => {
      if (index > 1) answer(response, 200);
      // The first request is never answered.
    });
    const http = resilientFetch({ clock, attemptTimeoutMs: 1_000, retry: { backoff: constant({ ms: 100 }) } });
    const pending = http(api.url);
    await api.received(1);
    await clock.advanceAsync(1_000);
    await until(() => api.requests[0]?.aborted === true);
    await clock.advanceAsync(100);
    expect((await pending).status).toBe(200);
    expect(api.requests).toHaveLength(2);
  });

  it('ends the call at totalTimeoutMs, attempts and waits included', async () => {
    const clock = manualClock(start);
    const api = await server(() => {
      // Never answers.
    });
    const http = resilientFetch({
      clock,
      totalTimeoutMs: 2_500,
      attemptTimeoutMs: 1_000,
      retry: { maxAttempts: 5, backoff: constant({ ms: 100 }) },
    });
    const pending = http(api.url).catch((error: unknown) => error);
    await api.received(1);
    await clock.advanceAsync(1_100);
    await api.received(2);
    await clock.advanceAsync(1_100);
    await api.received(3);
    await clock.advanceAsync(300);
    const error = await pending;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeoutMs).toBe(2_500);
    expect(api.requests).toHaveLength(3);
    await until(() => api.requests.every(({ aborted }) => aborted));
  });

  it("the request's signal ends a Retry-After wait at once", async () => {
    const clock = manualClock(start);
    const api = await server((_request, response) => answer(response, 503, { 'retry-after': '20' }));
    const http = resilientFetch({ clock });
    const retried = new Promise((resolve) => http.onRetry(resolve));
    const controller = new AbortController();
    const pending = http(api.url, { signal: controller.signal }).catch((error: unknown) => error);
    await retried;
    const reason = new Error('caller gave up');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    await clock.advanceAsync(30_000);
    expect(api.requests).toHaveLength(1);
  });
});

describe('resilientFetch: network errors and safe retries', () => {
  const resetFirst: TestHandler = (_request, response, { index, socket }) => {
    if (index === 1) socket.destroy();
    else answer(response, 201);
  };
  const immediate = { backoff: constant({ ms: 0 }) };

  it('retries a GET after a connection reset', async () => {
    const api = await server(resetFirst);
    const http = resilientFetch({ retry: immediate });
    expect((await http(api.url)).status).toBe(201);
    expect(api.requests).toHaveLength(2);
  });

  it('sends a POST without Idempotency-Key once, even after a reset', async () => {
    const api = await server(resetFirst);
    const http = resilientFetch({ retry: immediate });
    await expect(http(api.url, { method: 'POST', body: '{"order":1}' })).rejects.toThrow(TypeError);
    expect(api.requests).toHaveLength(1);
  });

  it('does not retry a POST answered 503 without Idempotency-Key', async () => {
    const api = await server((_request, response) => answer(response, 503));
    const http = resilientFetch({ retry: immediate });
    expect((await http(api.url, { method: 'POST', body: 'x' })).status).toBe(503);
    expect(api.requests).toHaveLength(1);
  });

  it('retries a POST with an Idempotency-Key once, with the same key and body', async () => {
    const api = await server(resetFirst);
    const http = resilientFetch({ retry: immediate });
    const response = await http(api.url, {
      method: 'POST',
      headers: { 'idempotency-key': 'order-1', 'content-type': 'application/json' },
      body: '{"order":1}',
    });
    expect(response.status).toBe(201);
    expect(api.requests.map(({ headers, body }) => [headers['idempotency-key'], body])).toEqual([
      ['order-1', '{"order":1}'],
      ['order-1', '{"order":1}'],
    ]);
  });

  it('adds one Idempotency-Key to a POST with idempotencyKey, kept across retries', async () => {
    const api = await server(resetFirst);
    let made = 0;
    const http = resilientFetch({ retry: immediate, idempotencyKey: () => `key-${++made}` });
    expect((await http(api.url, { method: 'PATCH', body: 'x' })).status).toBe(201);
    expect(api.requests.map(({ headers }) => headers['idempotency-key'])).toEqual(['key-1', 'key-1']);
  });

  it('replays a streamed body within maxBufferedBodyBytes', async () => {
    const api = await server((_request, response, { index }) => answer(response, index === 1 ? 503 : 200));
    const http = resilientFetch({ retry: immediate });
    const body = new Blob(['streamed ', 'body']).stream();
    expect((await http(api.url, { method: 'PUT', body, duplex: 'half' } as RequestInit)).status).toBe(200);
    expect(api.requests.map((request) => request.body)).toEqual(['streamed body', 'streamed body']);
  });

  it('refuses to retry a streamed body larger than maxBufferedBodyBytes, with a clear error', async () => {
    const api = await server((_request, response) => answer(response, 503));
    const http = resilientFetch({ retry: immediate, maxBufferedBodyBytes: 8 });
    const body = new Blob(['a body longer ', 'than eight bytes']).stream();
    const error = await http(api.url, { method: 'PUT', body, duplex: 'half' } as RequestInit).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(RequestBodyNotReplayableError);
    expect((error as RequestBodyNotReplayableError).cause).toBeInstanceOf(HttpStatusError);
    expect(api.requests.map((request) => request.body)).toEqual(['a body longer than eight bytes']);
  });

  it('accepts a Request as input, its method, headers and body included', async () => {
    const api = await server((_request, response, { index }) => answer(response, index === 1 ? 502 : 200));
    const http = resilientFetch({ retry: immediate });
    const request = new Request(api.url, { method: 'PUT', headers: { 'x-test': 'yes' }, body: 'payload' });
    expect((await http(request)).status).toBe(200);
    expect(api.requests.map(({ method, headers, body }) => [method, headers['x-test'], body])).toEqual([
      ['PUT', 'yes', 'payload'],
      ['PUT', 'yes', 'payload'],
    ]);
  });
});

describe('resilientFetch: hedging', () => {
  it('takes the faster of two servers and cancels the slower attempt', async () => {
    const clock = manualClock(start);
    const slow = await server(() => {
      // Answers never: the hedged attempt must win.
    });
    const fast = await server((_request, response) => answer(response, 200));
    const http = resilientFetch({
      clock,
      hedge: { hedgeDelayMs: 100 },
      endpoint: ({ attempt }) => (attempt === 1 ? slow.url : fast.url),
    });
    const hedges: unknown[] = [];
    http.onHedge((event) => hedges.push(event));
    const pending = http(slow.url);
    await slow.received(1);
    await clock.advanceAsync(100);
    const response = await pending;
    expect(await response.text()).toBe('status 200');
    expect(hedges).toEqual([{ attempt: 2, trigger: 'delay' }]);
    expect(fast.requests).toHaveLength(1);
    await until(() => slow.requests[0]?.aborted === true);
  });

  it('never hedges a POST without Idempotency-Key', async () => {
    const clock = manualClock(start);
    let release: (() => void) | undefined;
    const api = await server((_request, response) => {
      release = () => answer(response, 200);
    });
    const http = resilientFetch({ clock, hedge: { hedgeDelayMs: 100 } });
    const pending = http(api.url, { method: 'POST', body: 'x' });
    await api.received(1);
    await clock.advanceAsync(1_000);
    release?.();
    expect((await pending).status).toBe(200);
    expect(api.requests).toHaveLength(1);
  });
});

describe('resilientFetch: rate limiter and options', () => {
  it('refuses a request over the client-side limit before sending it', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response) => answer(response, 200));
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 2, refillPerSecond: 1 }),
      store: memoryRateLimitStore({ clock }),
      clock,
    });
    const http = resilientFetch({ clock, rateLimit: { limiter } });
    await http(api.url);
    await http(api.url);
    const error = await http(api.url).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ key: api.origin });
    expect(api.requests).toHaveLength(2);
  });

  it('reports every invalid option at once', () => {
    let error: unknown;
    try {
      resilientFetch({
        totalTimeoutMs: -1,
        retry: { maxAttempts: 0 },
        statusErrors: 'maybe' as never,
        circuitBreaker: { key: 'host' as never },
      });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).problems).toHaveLength(4);
  });
});
