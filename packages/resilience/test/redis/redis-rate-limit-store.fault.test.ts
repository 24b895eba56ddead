import { fixedWindow, RateLimitStoreError, rateLimit, rateLimiter } from '@bulwark/resilience';
import { rateLimitPlugin } from '@bulwark/resilience/fastify';
import { redisRateLimitStore } from '@bulwark/resilience/redis';
import { describeWithRedisServer, type RedisServerProcess, startRedisServer } from '@bulwark/test-support';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

// A private redis-server on a free port (never the shared one): killed with SIGKILL mid-run, then
// restarted on the same port, while one limiter and one ioredis client keep running throughout.

describeWithRedisServer('redisRateLimitStore faults (private redis-server, SIGKILL and restart)', () => {
  let server: RedisServerProcess;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer({ appendOnly: false });
    redis = new Redis(server.url, { retryStrategy: () => 100 });
    redis.on('error', () => {}); // connection errors are expected while the server is down
  });
  afterAll(async () => {
    redis.disconnect();
    await server.remove();
  });

  it('settles every call within timeoutMs with a typed error while Redis is down, and recovers without a restart', async () => {
    const timeoutMs = 300;
    const limiter = rateLimiter({
      name: 'fault',
      algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }),
      store: redisRateLimitStore(redis),
      timeoutMs,
    });
    const failures: string[] = [];
    limiter.on('rate-limit-store-failed', ({ error }) => failures.push(error.code));
    expect((await limiter.consume('user')).allowed).toBe(true);

    await server.stop();
    const startedAt = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => limiter.consume('user')));
    const elapsed = performance.now() - startedAt;
    expect(elapsed).toBeLessThan(timeoutMs + 250);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(RateLimitStoreError);
    }
    expect(failures.length).toBeGreaterThanOrEqual(20);

    // Fail open, explicitly: the policy runs the call, the HTTP plugin answers 503 when told to.
    const policy = rateLimit(limiter, { key: 'user', failOpen: true });
    expect(await policy.execute(async () => 'ran anyway')).toBe('ran anyway');
    await expect(rateLimit(limiter, { key: 'user' }).execute(async () => 'no')).rejects.toBeInstanceOf(
      RateLimitStoreError,
    );
    const app = Fastify();
    await app.register(rateLimitPlugin, { limiter, key: () => 'user', whenStoreDown: 'reject' });
    app.get('/', async () => 'ok');
    const httpStartedAt = performance.now();
    expect((await app.inject({ url: '/' })).statusCode).toBe(503);
    expect(performance.now() - httpStartedAt).toBeLessThan(timeoutMs + 250);
    await app.close();

    // Same port, fresh server (empty, and without our scripts: NOSCRIPT → EVAL reloads them).
    await server.start();
    let decision: Awaited<ReturnType<typeof limiter.consume>> | undefined;
    const deadline = performance.now() + 10_000;
    while (!decision && performance.now() < deadline) {
      decision = await limiter.consume('fresh-user').catch(() => undefined);
      if (!decision) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(decision).toMatchObject({ allowed: true, remaining: 2 });
    expect((await limiter.consume('fresh-user')).allowed).toBe(true);
    expect((await limiter.consume('fresh-user')).allowed).toBe(true);
    expect((await limiter.consume('fresh-user')).allowed).toBe(false);
  }, 30_000);

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT → EVAL), for single calls and whole batches', async () => {
    // On the private server: flushing the shared server's script cache would disturb other suites.
    const store = redisRateLimitStore(redis, { prefix: 'noscript:' });
    const algorithm = fixedWindow({ limit: 4, windowMs: 60_000 });
    expect((await store.consume('k', algorithm, 1)).allowed).toBe(true);
    await redis.script('FLUSH');
    expect(await store.consume('k', algorithm, 1)).toMatchObject({ allowed: true, remaining: 2 });
    await redis.script('FLUSH');
    const batch = await Promise.all([1, 2, 3].map(() => store.consume('k', algorithm, 1)));
    expect(batch.map((decision) => decision.allowed)).toEqual([true, true, false]);
  });
});
