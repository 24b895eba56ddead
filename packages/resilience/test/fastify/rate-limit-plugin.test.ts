// The Fastify plugin and hook: the shared HTTP rate-limit scenario through inject(), and what
// only Fastify has (a hook per route) or only this file checks (ipKey, option validation).
import { fixedWindow, ipKey, rateLimiter } from '@bulwark/resilience';
import { rateLimitHook, rateLimitPlugin } from '@bulwark/resilience/fastify';
import { manualClock } from '@bulwark/resilience/testing';
import Fastify, { type FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { rateLimitHttpScenario } from '../rate-limit/http-rate-limit-scenario.js';

rateLimitHttpScenario('rateLimitPlugin (Fastify)', {
  async serve(options) {
    const fastify = Fastify();
    await fastify.register(rateLimitPlugin, options);
    fastify.get('/items', async () => ({ items: [] }));
    return {
      async get(url, headers = {}) {
        const response = await fastify.inject({ url, headers });
        const sent = Object.entries(response.headers).map(([name, value]) => [name, String(value)]);
        return { status: response.statusCode, headers: Object.fromEntries(sent), body: response.body };
      },
      close: () => fastify.close(),
    };
  },
  make: (options) => rateLimitHook(options),
  requestDetail: { read: (request) => (request as FastifyRequest).ip, expected: '127.0.0.1' },
});

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
});
