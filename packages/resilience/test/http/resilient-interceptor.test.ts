// The undici interceptor against real HTTP servers (node:http on loopback) started by each test,
// through undici's own `request` and `fetch`: the same pipeline as resilientFetch, at the
// dispatcher. Time (Retry-After, the breaker's half-open delay) runs on the controllable clock.
import { BrokenCircuitError, consecutive, constant } from '@bulwark/resilience';
import type { HttpCircuitStateChangeEvent, HttpRetryEvent } from '@bulwark/resilience/http';
import { manualClock } from '@bulwark/resilience/testing';
import { resilientInterceptor } from '@bulwark/resilience/undici';
import { Agent, request, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answer, startTestServer, type TestHandler, type TestServer } from './fixtures/test-server.js';

const servers: TestServer[] = [];
const agents: Agent[] = [];
async function server(handler: TestHandler): Promise<TestServer> {
  const started = await startTestServer(handler);
  servers.push(started);
  return started;
}
function agentWith(interceptor: ReturnType<typeof resilientInterceptor>) {
  const agent = new Agent();
  agents.push(agent);
  return agent.compose(interceptor);
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((started) => started.close()));
  await Promise.all(agents.splice(0).map((agent) => agent.close()));
});

const start = Date.UTC(2026, 11, 6, 12, 0, 0);
const until = (condition: () => boolean) => vi.waitFor(() => expect(condition()).toBe(true), { timeout: 5_000 });
const immediate = { backoff: constant({ ms: 0 }) };

describe('resilientInterceptor', () => {
  it('waits the seconds of a 429 Retry-After, then returns the next response (undici request)', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response, { index }) =>
      index === 1 ? answer(response, 429, { 'retry-after': '3' }) : answer(response, 200),
    );
    const interceptor = resilientInterceptor({ clock });
    const retries: HttpRetryEvent[] = [];
    interceptor.onRetry((event) => retries.push(event));
    const pending = request(api.url, { dispatcher: agentWith(interceptor) });
    await until(() => retries.length === 1);
    expect(retries[0]).toMatchObject({ method: 'GET', url: api.url, attempt: 2, delayMs: 3_000 });
    await clock.advanceAsync(2_999);
    expect(api.requests).toHaveLength(1);
    await clock.advanceAsync(1);
    const response = await pending;
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('status 200');
    expect(api.requests).toHaveLength(2);
  });

  it('waits until the HTTP date of a Retry-After (undici fetch)', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response, { index }) =>
      index === 1
        ? answer(response, 429, { 'retry-after': new Date(start + 7_000).toUTCString() })
        : answer(response, 200),
    );
    const interceptor = resilientInterceptor({ clock });
    const retries: HttpRetryEvent[] = [];
    interceptor.onRetry((event) => retries.push(event));
    const pending = undiciFetch(api.url, { dispatcher: agentWith(interceptor) });
    await until(() => retries.length === 1);
    expect(retries[0]?.delayMs).toBe(7_000);
    await clock.advanceAsync(6_999);
    expect(api.requests).toHaveLength(1);
    await clock.advanceAsync(1);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('status 200');
  });

  it('a 503 storm opens the breaker of its origin; another origin keeps working', async () => {
    const clock = manualClock(start);
    const failing = await server((_request, response) => answer(response, 503));
    const healthy = await server((_request, response) => answer(response, 200));
    const interceptor = resilientInterceptor({
      clock,
      retry: false,
      circuitBreaker: { strategy: consecutive(3), halfOpenAfter: 5_000 },
    });
    const dispatcher = agentWith(interceptor);
    const changes: HttpCircuitStateChangeEvent[] = [];
    interceptor.onStateChange((event) => changes.push(event));
    for (let index = 0; index < 3; index++) {
      const response = await request(failing.url, { dispatcher });
      expect(response.statusCode).toBe(503);
      expect(await response.body.text()).toBe('status 503');
    }
    await expect(request(failing.url, { dispatcher })).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(failing.requests).toHaveLength(3);
    expect((await request(healthy.url, { dispatcher })).statusCode).toBe(200);
    expect(changes).toMatchObject([{ key: failing.origin, from: 'closed', to: 'open', reason: 'failures' }]);
    const snapshot = interceptor.snapshot();
    expect(snapshot.endpoints.find(({ key }) => key === failing.origin)?.circuit?.state).toBe('open');
    expect(snapshot.endpoints.find(({ key }) => key === healthy.origin)?.circuit?.state).toBe('closed');
    await clock.advanceAsync(5_000);
    expect((await request(failing.url, { dispatcher })).statusCode).toBe(503);
    expect(failing.requests).toHaveLength(4);
  });

  it('retries a GET after a connection reset, on a reused connection afterwards', async () => {
    const api = await server((_request, response, { index, socket }) => {
      if (index === 1) socket.destroy();
      else answer(response, 200);
    });
    const dispatcher = agentWith(resilientInterceptor({ retry: immediate }));
    const response = await request(api.url, { dispatcher });
    expect(response.statusCode).toBe(200);
    await response.body.text();
    expect(api.requests).toHaveLength(2);
  });

  it('does not retry a POST without Idempotency-Key, answered 503 or reset', async () => {
    const api = await server((_request, response, { index, socket }) => {
      if (index === 2) socket.destroy();
      else answer(response, 503);
    });
    const dispatcher = agentWith(resilientInterceptor({ retry: immediate }));
    const answered = await request(api.url, { dispatcher, method: 'POST', body: 'x' });
    expect(answered.statusCode).toBe(503);
    await answered.body.text();
    expect(api.requests).toHaveLength(1);
    await expect(request(api.url, { dispatcher, method: 'POST', body: 'y' })).rejects.toThrow();
    expect(api.requests).toHaveLength(2);
  });

  it('retries a POST with an Idempotency-Key once, with the same key and body', async () => {
    const api = await server((_request, response, { index, socket }) => {
      if (index === 1) socket.destroy();
      else answer(response, 201);
    });
    const dispatcher = agentWith(resilientInterceptor({ retry: immediate }));
    const response = await request(api.url, {
      dispatcher,
      method: 'POST',
      headers: { 'idempotency-key': 'order-1', 'content-type': 'application/json' },
      body: '{"order":1}',
    });
    expect(response.statusCode).toBe(201);
    expect(api.requests.map(({ headers, body }) => [headers['idempotency-key'], body])).toEqual([
      ['order-1', '{"order":1}'],
      ['order-1', '{"order":1}'],
    ]);
  });

  it('replays a streamed body sent by undici fetch', async () => {
    const api = await server((_request, response, { index }) => answer(response, index === 1 ? 503 : 200));
    const dispatcher = agentWith(resilientInterceptor({ retry: immediate }));
    const body = new Blob(['streamed ', 'body']).stream();
    const response = await undiciFetch(api.url, { dispatcher, method: 'PUT', body, duplex: 'half' });
    expect(response.status).toBe(200);
    expect(api.requests.map(({ body: received }) => received)).toEqual(['streamed body', 'streamed body']);
  });

  it('the caller aborting ends the wait for a Retry-After at once', async () => {
    const clock = manualClock(start);
    const api = await server((_request, response) => answer(response, 503, { 'retry-after': '20' }));
    const interceptor = resilientInterceptor({ clock });
    const retries: HttpRetryEvent[] = [];
    interceptor.onRetry((event) => retries.push(event));
    const controller = new AbortController();
    const pending = request(api.url, { dispatcher: agentWith(interceptor), signal: controller.signal });
    await until(() => retries.length === 1);
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow();
    expect(api.requests).toHaveLength(1);
  });
});
