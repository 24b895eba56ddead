import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitMiddleware } from '../../src/express/index.js';
import {
  fixedWindow,
  InvalidOptionsError,
  type RateLimitHeadersFormat,
  type RateLimitStore,
  rateLimiter,
} from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';

const downStore: RateLimitStore = {
  consume: async () => {
    throw new Error('ECONNREFUSED');
  },
  peek: async () => {
    throw new Error('ECONNREFUSED');
  },
  reset: async () => {},
  close: async () => {},
};

describe('rateLimitMiddleware (Express)', () => {
  const outages: string[] = [];
  const app = express();
  app.use(
    '/api',
    rateLimitMiddleware({
      limiter: rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }) }),
      // No annotation: the callbacks get Express' Request.
      key: (request) => request.get('x-api-key'),
      whenStoreDown: 'reject',
    }),
  );
  app.get('/api/items', (_request, response) => {
    response.json({ items: [] });
  });
  const downLimiter = rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }), store: downStore });
  app.use('/closed', rateLimitMiddleware({ limiter: downLimiter, key: () => 'k', whenStoreDown: 'reject' }));
  app.use(
    '/open',
    rateLimitMiddleware({
      limiter: downLimiter,
      key: () => 'k',
      whenStoreDown: 'allow',
      onStoreDown: (error) => outages.push(error.code),
    }),
  );
  app.get(['/closed', '/open'], (_request, response) => {
    response.send('ok');
  });
  const clock = manualClock(1_700_000_000_000);
  const formats: RateLimitHeadersFormat[] = ['draft-8', 'draft-7', 'draft-6', 'legacy'];
  for (const format of formats)
    app.get(
      `/format/${format}`,
      rateLimitMiddleware({
        limiter: rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 10_000 }), clock }),
        key: () => 'k',
        whenStoreDown: 'reject',
        headers: format,
        policy: 'api',
        clock,
      }),
      (_request, response) => {
        response.send('ok');
      },
    );
  app.get(
    '/custom',
    rateLimitMiddleware({
      limiter: rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 10_000 }), clock }),
      key: () => 'k',
      whenStoreDown: 'reject',
      limitedResponse: ({ request, problem }) => ({
        status: 418,
        body: { path: request.path, policies: problem['violated-policies'] },
      }),
    }),
    (_request, response) => {
      response.send('ok');
    },
  );

  let base = '';
  let server: ReturnType<typeof app.listen>;
  beforeAll(async () => {
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sets the newest draft headers and answers 429 (a problem document) with Retry-After, per key', async () => {
    const get = () => fetch(`${base}/api/items`, { headers: { 'x-api-key': 'alice' } });
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60');
    expect(first.headers.get('ratelimit')).toMatch(/^"default";r=1;t=\d+$/);
    expect((await get()).status).toBe(200);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect(await limited.json()).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      status: 429,
      'violated-policies': ['default'],
    });
    expect((await fetch(`${base}/api/items`, { headers: { 'x-api-key': 'bob' } })).status).toBe(200);
    // No key: unlimited.
    for (let index = 0; index < 4; index++) expect((await fetch(`${base}/api/items`)).status).toBe(200);
  });

  it('store down: 503 when failing closed, pass + event when failing open', async () => {
    const closed = await fetch(`${base}/closed`);
    expect(closed.status).toBe(503);
    expect(closed.headers.get('retry-after')).toBe('1');
    expect(closed.headers.get('content-type')).toBe('application/problem+json');
    expect(await closed.json()).toMatchObject({ type: 'urn:bulwark:rate-limit:store-unavailable', status: 503 });
    const open = await fetch(`${base}/open`);
    expect(open.status).toBe(200);
    expect(await open.text()).toBe('ok');
    expect(outages).toEqual(['RATE_LIMIT_STORE_FAILED']);
  });

  const expected: Record<RateLimitHeadersFormat, Record<string, string>> = {
    'draft-8': { 'ratelimit-policy': '"api";q=2;w=10', ratelimit: '"api";r=0;t=10' },
    'draft-7': { 'ratelimit-policy': '2;w=10', ratelimit: 'limit=2, remaining=0, reset=10' },
    'draft-6': {
      'ratelimit-policy': '2;w=10',
      'ratelimit-limit': '2',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '10',
    },
    legacy: { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(1_700_000_010) },
  };
  it.each(formats)('headers: %s', async (format) => {
    await fetch(`${base}/format/${format}`);
    const second = await fetch(`${base}/format/${format}`);
    const sent = Object.fromEntries([...second.headers].filter(([name]) => name.includes('ratelimit')));
    expect(sent).toEqual(expected[format]);
  });

  it('limitedResponse builds the refusal', async () => {
    expect((await fetch(`${base}/custom`)).status).toBe(200);
    const limited = await fetch(`${base}/custom`);
    expect(limited.status).toBe(418);
    expect(limited.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(limited.headers.get('retry-after')).toBe('10');
    expect(await limited.json()).toEqual({ path: '/custom', policies: ['default'] });
  });

  it('requires an explicit whenStoreDown', () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
    expect(() => rateLimitMiddleware({ limiter, key: () => 'k' } as never)).toThrowError(InvalidOptionsError);
  });
});
