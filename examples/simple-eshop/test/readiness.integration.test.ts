// /health/ready on real servers reached through fault proxies: 503 while the database or Redis
// is down or silent (answered within the check timeout, never a hang), 200 again once they are
// back, with the same pool and client (no restart).
import { describeWithServers, faultProxy } from '@bulwark/test-support';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { healthRoutes } from '../src/health/health-routes.js';
import { databaseReadiness, redisReadiness } from '../src/health/readiness-checks.js';

await describeWithServers('/health/ready when servers fail', ['postgres', 'redis'], (servers) => {
  let database: Awaited<ReturnType<typeof faultProxy>>;
  let redisProxy: Awaited<ReturnType<typeof faultProxy>>;
  let pool: pg.Pool;
  let redis: Redis;
  let app: ReturnType<typeof Fastify>;
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown) => unhandled.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onUnhandled);
    process.on('unhandledRejection', onUnhandled);
    const postgresUrl = new URL(servers.postgres);
    database = await faultProxy({ host: postgresUrl.hostname, port: Number(postgresUrl.port || 5432) });
    const redisUrl = new URL(servers.redis);
    redisProxy = await faultProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    pool = new pg.Pool({ connectionString: database.url(servers.postgres), max: 4, connectionTimeoutMillis: 2_000 });
    pool.on('error', () => {});
    redis = new Redis(redisProxy.url(servers.redis), { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => {});
    app = Fastify();
    await app.register(healthRoutes, {
      checks: { database: databaseReadiness(pool, { timeoutMs: 500 }), redis: redisReadiness(redis) },
      prometheusText: async () => '',
      checkTimeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await pool?.end();
    await database?.close();
    await redisProxy?.close();
    process.off('uncaughtException', onUnhandled);
    process.off('unhandledRejection', onUnhandled);
  });

  const ready = async () => {
    const response = await app.inject({ method: 'GET', url: '/health/ready' });
    return { status: response.statusCode, checks: response.json().checks as Record<string, { status: string }> };
  };
  const eventuallyReady = async () => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const answer = await ready();
      if (answer.status === 200) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return ready();
  };

  it('is 200 with both servers up', async () => {
    expect((await eventuallyReady()).status).toBe(200);
  });

  for (const fault of ['down', 'blackhole'] as const) {
    it(`answers 503 while the database is ${fault}, and 200 once it is back`, async () => {
      database[fault]();
      const during = await ready();
      expect(during.status).toBe(503);
      expect(during.checks.database?.status).toBe('down');
      expect(during.checks.redis?.status).toBe('up');
      await database.heal();
      expect((await eventuallyReady()).status).toBe(200);
    });

    it(`answers 503 while Redis is ${fault}, and 200 once it is back`, async () => {
      redisProxy[fault]();
      const during = await ready();
      expect(during.status).toBe(503);
      expect(during.checks.redis?.status).toBe('down');
      await redisProxy.heal();
      // A blackholed connection is only given up by ioredis's reconnect; cut it so it reconnects.
      redisProxy.cutAll();
      expect((await eventuallyReady()).status).toBe(200);
    });
  }

  it('saw no unhandled error or rejection', () => {
    expect(unhandled).toEqual([]);
  });
});
