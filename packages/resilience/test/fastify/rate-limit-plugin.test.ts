import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { rateLimitHook, rateLimitPlugin } from '../../src/fastify/index.js';
import {
  fixedWindow,
  InvalidOptionsError,
  ipKey,
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

async function app(options: Partial<Parameters<typeof rateLimitPlugin>[1]> = {}) {
  const clock = manualClock(1_700_000_000_000);
  const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 2, windowMs: 10_000 }), clock });
  const fastify = Fastify();
  await fastify.register(rateLimitPlugin, {
    limiter,
    key: (request) => (request.headers['x-api-key'] as string | undefined) ?? request.ip,
    whenStoreDown: 'reject',
    clock,
    ...options,
  });
  fastify.get('/items', async () => ({ items: [] }));
  return { fastify, clock };
}

describe('rateLimitPlugin (Fastify)', () => {
  it('sets the newest draft headers, then answers 429 (a problem document) with Retry-After', async () => {
    const { fastify, clock } = await app();
    const first = await fastify.inject({ url: '/items' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"default";q=2;w=10');
    expect(first.headers.ratelimit).toBe('"default";r=1;t=10');
    expect(first.headers['ratelimit-limit']).toBeUndefined();
    expect((await fastify.inject({ url: '/items' })).statusCode).toBe(200);
    const limited = await fastify.inject({ url: '/items' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.headers.ratelimit).toBe('"default";r=0;t=10');
    expect(limited.headers['content-type']).toBe('application/problem+json');
    expect(limited.json()).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Too Many Requests',
      status: 429,
      detail: 'Rate limit exceeded; retry in 10 s.',
      'violated-policies': ['default'],
      retryAfterMs: 10_000,
    });
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
      expect(response.headers.ratelimit).toBeUndefined();
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
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.json()).toMatchObject({ type: 'urn:bulwark:rate-limit:store-unavailable', status: 503 });

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

  const formats: Array<[RateLimitHeadersFormat, Record<string, string>]> = [
    ['draft-8', { 'ratelimit-policy': '"api";q=2;w=10', ratelimit: '"api";r=0;t=10' }],
    ['draft-7', { 'ratelimit-policy': '2;w=10', ratelimit: 'limit=2, remaining=0, reset=10' }],
    [
      'draft-6',
      { 'ratelimit-policy': '2;w=10', 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': '10' },
    ],
    ['legacy', { 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(1_700_000_010) }],
  ];
  it.each(formats)('headers: %s', async (format, expected) => {
    const { fastify } = await app({ headers: format, policy: 'api' });
    await fastify.inject({ url: '/items' });
    const second = await fastify.inject({ url: '/items' });
    const names = ['ratelimit', 'ratelimit-policy', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];
    const sent = Object.fromEntries(
      Object.entries(second.headers).filter(([name]) => names.includes(name) || name.startsWith('x-ratelimit-')),
    );
    expect(sent).toEqual(expected);
    await fastify.close();
  });

  it('headers: false sends none, but a refusal still has Retry-After', async () => {
    const { fastify } = await app({ headers: false });
    await fastify.inject({ url: '/items' });
    await fastify.inject({ url: '/items' });
    const limited = await fastify.inject({ url: '/items' });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(Object.keys(limited.headers).filter((name) => name.includes('ratelimit'))).toEqual([]);
    await fastify.close();
  });

  it('limitedResponse builds the refusal: own status, body and content type', async () => {
    const { fastify } = await app({
      limitedResponse: ({ request, decision, problem }) => ({
        status: 503,
        body: { message: `slow down ${request.ip}`, wait: decision.retryAfterMs, type: problem.type },
      }),
    });
    await fastify.inject({ url: '/items' });
    await fastify.inject({ url: '/items' });
    const limited = await fastify.inject({ url: '/items' });
    expect(limited.statusCode).toBe(503);
    expect(limited.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.json()).toEqual({
      message: 'slow down 127.0.0.1',
      wait: 10_000,
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
    });
    const { fastify: text } = await app({ limitedResponse: () => ({ body: 'later' }) });
    for (let index = 0; index < 2; index++) await text.inject({ url: '/items' });
    const plain = await text.inject({ url: '/items' });
    expect([plain.statusCode, plain.headers['content-type'], plain.body]).toEqual([
      429,
      'text/plain; charset=utf-8',
      'later',
    ]);
    await fastify.close();
    await text.close();
  });

  it('ipKey groups the IPv6 clients of one /56 under one key', async () => {
    const { fastify } = await app({ key: (request) => ipKey(request.headers['x-client'] as string) });
    const from = (address: string) => fastify.inject({ url: '/items', headers: { 'x-client': address } });
    expect((await from('2001:db8:1:100::1')).statusCode).toBe(200);
    expect((await from('2001:db8:1:1ff:ffff::9')).statusCode).toBe(200);
    expect((await from('2001:db8:1:180::2')).statusCode).toBe(429);
    expect((await from('2001:db8:1:200::1')).statusCode).toBe(200);
    await fastify.close();
  });

  it('refuses unknown header formats and policy names', () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
    const base = { limiter, key: () => 'k', whenStoreDown: 'allow' } as const;
    expect(() => rateLimitHook({ ...base, headers: 'draft-9' as never })).toThrowError(/headers must be/);
    expect(() => rateLimitHook({ ...base, policy: 'naïve' })).toThrowError(/policy must be/);
  });

  it('requires an explicit whenStoreDown', () => {
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }) });
    expect(() => rateLimitHook({ limiter, key: () => 'k' } as never)).toThrowError(InvalidOptionsError);
    expect(() => rateLimitHook({ limiter, key: () => 'k' } as never)).toThrowError(/whenStoreDown/);
  });
});
