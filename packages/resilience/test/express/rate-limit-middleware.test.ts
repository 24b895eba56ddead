import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitMiddleware } from '../../src/express/index.js';
import { fixedWindow, InvalidOptionsError, type RateLimitStore, rateLimiter } from '../../src/index.js';

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
      key: (request: express.Request) => request.header('x-api-key') ?? undefined,
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

  it('sets RateLimit-* headers and answers 429 with Retry-After over the limit, per key', async () => {
    const get = () => fetch(`${base}/api/items`, { headers: { 'x-api-key': 'alice' } });
    const first = await get();
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    expect(Number(first.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    expect((await get()).status).toBe(200);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: 'Too Many Requests' });
    expect((await fetch(`${base}/api/items`, { headers: { 'x-api-key': 'bob' } })).status).toBe(200);
    // No key: unlimited.
    for (let index = 0; index < 4; index++) expect((await fetch(`${base}/api/items`)).status).toBe(200);
  });

  it('store down: 503 when failing closed, pass + event when failing open', async () => {
    const closed = await fetch(`${base}/closed`);
    expect(closed.status).toBe(503);
    expect(closed.headers.get('retry-after')).toBe('1');
    const open = await fetch(`${base}/open`);
    expect(open.status).toBe(200);
    expect(await open.text()).toBe('ok');
    expect(outages).toEqual(['RATE_LIMIT_STORE_FAILED']);
  });

  it('requires an explicit whenStoreDown', () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
    expect(() => rateLimitMiddleware({ limiter, key: () => 'k' } as never)).toThrowError(InvalidOptionsError);
  });
});
