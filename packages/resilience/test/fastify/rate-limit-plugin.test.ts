import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { rateLimitHook, rateLimitPlugin } from '../../src/fastify/index.js';
import { fixedWindow, InvalidOptionsError, type RateLimitStore, rateLimiter } from '../../src/index.js';
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

async function app(options: Partial<Parameters<typeof rateLimitPlugin>[1]> = {}) {
  const clock = manualClock(1_700_000_000_000);
  const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 10_000 }), clock });
  const fastify = Fastify();
  await fastify.register(rateLimitPlugin, {
    limiter,
    key: (request) => (request.headers['x-api-key'] as string | undefined) ?? request.ip,
    whenStoreDown: 'reject',
    ...options,
  });
  fastify.get('/items', async () => ({ items: [] }));
  return { fastify, clock };
}

describe('rateLimitPlugin (Fastify)', () => {
  it('sets RateLimit-* headers, then answers 429 with Retry-After once over the limit', async () => {
    const { fastify, clock } = await app();
    const first = await fastify.inject({ url: '/items' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-limit']).toBe('2');
    expect(first.headers['ratelimit-remaining']).toBe('1');
    expect(first.headers['ratelimit-reset']).toBe('10');
    expect((await fastify.inject({ url: '/items' })).statusCode).toBe(200);
    const limited = await fastify.inject({ url: '/items' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(limited.json()).toMatchObject({ error: 'Too Many Requests', retryAfterMs: 10_000 });
    // Another key is counted apart.
    expect((await fastify.inject({ url: '/items', headers: { 'x-api-key': 'k2' } })).statusCode).toBe(200);
    clock.advance(10_000);
    expect((await fastify.inject({ url: '/items' })).statusCode).toBe(200);
    await fastify.close();
  });

  it('lets requests without a key through unlimited', async () => {
    const { fastify } = await app({ key: () => undefined });
    for (let index = 0; index < 5; index++) {
      const response = await fastify.inject({ url: '/items' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-limit']).toBeUndefined();
    }
    await fastify.close();
  });

  it('store down + whenStoreDown "reject" → 503; "allow" → passes and reports the outage', async () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 1_000 }), store: downStore });
    const closed = Fastify();
    await closed.register(rateLimitPlugin, { limiter, key: () => 'k', whenStoreDown: 'reject' });
    closed.get('/', async () => 'ok');
    const refused = await closed.inject({ url: '/' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');

    const outages: string[] = [];
    const open = Fastify();
    await open.register(rateLimitPlugin, {
      limiter,
      key: () => 'k',
      whenStoreDown: 'allow',
      onStoreDown: (error) => outages.push(error.code),
    });
    open.get('/', async () => 'ok');
    const passed = await open.inject({ url: '/' });
    expect(passed.statusCode).toBe(200);
    expect(passed.body).toBe('ok');
    expect(outages).toEqual(['RATE_LIMIT_STORE_FAILED']);
    await closed.close();
    await open.close();
  });

  it('limits a single route with rateLimitHook', async () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
    const fastify = Fastify();
    fastify.post(
      '/login',
      { onRequest: rateLimitHook({ limiter, key: () => 'u', whenStoreDown: 'reject' }) },
      async () => 'in',
    );
    fastify.get('/free', async () => 'free');
    expect((await fastify.inject({ method: 'POST', url: '/login' })).statusCode).toBe(200);
    expect((await fastify.inject({ method: 'POST', url: '/login' })).statusCode).toBe(429);
    expect((await fastify.inject({ url: '/free' })).statusCode).toBe(200);
    await fastify.close();
  });

  it('requires an explicit whenStoreDown', () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
    expect(() => rateLimitHook({ limiter, key: () => 'k' } as never)).toThrowError(InvalidOptionsError);
    expect(() => rateLimitHook({ limiter, key: () => 'k' } as never)).toThrowError(/whenStoreDown/);
  });
});
