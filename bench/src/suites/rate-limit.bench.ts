import { fixedWindow, gcra, type RateLimitAlgorithm, rateLimiter, slidingWindow } from '@bulwark/resilience';
import { postgresRateLimitStore } from '@bulwark/resilience/postgres';
import { redisRateLimitStore } from '@bulwark/resilience/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis } from 'rate-limiter-flexible';
import type { BenchmarkDefinition, Subject } from '../harness.js';

// Rate limiting side by side with rate-limiter-flexible 11. Every subject admits every call (the
// limits are far above the load), so all measure the decision path, not rejection handling.
// Keys cycle over 1,000 values, like a limiter keyed by user or IP.

const KEYS = Array.from({ length: 1000 }, (_, index) => `user-${index}`);
const cycler = () => {
  let index = 0;
  return () => {
    index = index === KEYS.length - 1 ? 0 : index + 1;
    return KEYS[index] as string;
  };
};
const HUGE = 1_000_000_000;
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const runId = `${process.pid}-${Date.now().toString(36)}`;
const tableSuffix = runId.replace(/[^a-z0-9]/gi, '_');

const memoryBulwark = (algorithm: RateLimitAlgorithm) => (): Subject => {
  const limiter = rateLimiter({ algorithm });
  const next = cycler();
  return { run: () => limiter.consume(next()) };
};

const clients: Redis[] = [];
const client = () => {
  const redis = new Redis(redisUrl);
  clients.push(redis);
  return redis;
};

const redisBulwark =
  (algorithm: RateLimitAlgorithm, batch = true) =>
  (): Subject => {
    const limiter = rateLimiter({
      name: `bench-${runId}-${algorithm.kind}-${batch}`,
      algorithm,
      store: redisRateLimitStore(client(), { batch }),
    });
    const next = cycler();
    return { run: () => limiter.consume(next()) };
  };

// Every PostgreSQL subject gets a pool of its own, the same size; tables are dropped at the end.
// Idle connections close soon: eight subjects × 16 would pass the server's max_connections (100),
// and rounds are interleaved, so only the subject running holds its connections.
const pools: pg.Pool[] = [];
const pool = () => {
  const created = new pg.Pool({ connectionString: databaseUrl, max: 16, idleTimeoutMillis: 500 });
  pools.push(created);
  return created;
};
const tables: string[] = [];
const postgresBulwark =
  (algorithm: RateLimitAlgorithm, unlogged: boolean, batch = true) =>
  async (): Promise<Subject> => {
    const table = `bench_rl_${unlogged ? 'unlogged' : 'logged'}_${algorithm.kind.replace('-', '_')}_${batch}_${tableSuffix}`;
    tables.push(table);
    const store = postgresRateLimitStore(pool(), { table, unlogged, sweepIntervalMs: 0, batch });
    await store.migrate();
    const limiter = rateLimiter({ name: 'bench', algorithm, store });
    const next = cycler();
    return { run: () => limiter.consume(next()) };
  };

const definitions: BenchmarkDefinition[] = [
  {
    name: 'rate-limit.memory',
    description: 'memory store: consume() of an admitted call, 1,000 keys',
    mode: { kind: 'op' },
    operations: 500_000,
    baseline: 'rate-limiter-flexible RateLimiterMemory',
    subjects: {
      'rate-limiter-flexible RateLimiterMemory': () => {
        const limiter = new RateLimiterMemory({ points: HUGE, duration: 60, keyPrefix: `rlf-${runId}` });
        const next = cycler();
        return { run: () => limiter.consume(next()) };
      },
      'bulwark fixedWindow': memoryBulwark(fixedWindow({ limit: HUGE, windowMs: 60_000 })),
      'bulwark gcra': memoryBulwark(gcra({ rate: 1_000_000, periodMs: 1_000, burst: HUGE })),
      'bulwark slidingWindow': memoryBulwark(slidingWindow({ limit: HUGE, windowMs: 60_000 })),
    },
  },
  {
    name: 'rate-limit.redis',
    description:
      'Redis store: consume() at 64 concurrent callers, one ioredis client per subject (under load bulwark shares script calls among concurrent decisions, pipelinedBatcher defaults, unless batch: false)',
    mode: { kind: 'concurrent', concurrency: 64 },
    operations: 50_000,
    baseline: 'bare EVALSHA (trivial script)',
    subjects: {
      'bare EVALSHA (trivial script)': async () => {
        const redis = client();
        const sha = (await redis.script('LOAD', 'return 1')) as string;
        const next = cycler();
        return { run: () => redis.evalsha(sha, 1, next()) };
      },
      'rate-limiter-flexible RateLimiterRedis': () => {
        const limiter = new RateLimiterRedis({
          storeClient: client(),
          points: HUGE,
          duration: 60,
          keyPrefix: `rlf-${runId}`,
        });
        const next = cycler();
        return { run: () => limiter.consume(next()) };
      },
      'bulwark fixedWindow': redisBulwark(fixedWindow({ limit: HUGE, windowMs: 60_000 })),
      'bulwark gcra': redisBulwark(gcra({ rate: 1_000_000, periodMs: 1_000, burst: HUGE })),
      'bulwark slidingWindow': redisBulwark(slidingWindow({ limit: HUGE, windowMs: 60_000 })),
      // One script call per decision, no coalescing (what a Cluster client gets).
      'bulwark gcra (batch: false)': redisBulwark(gcra({ rate: 1_000_000, periodMs: 1_000, burst: HUGE }), false),
    },
    teardown: async () => {
      await Promise.all(clients.splice(0).map((redis) => redis.quit()));
    },
  },
  {
    name: 'rate-limit.postgres',
    description:
      'PostgreSQL store: consume() at 64 concurrent callers, a pool of 16 connections per subject; rate-limiter-flexible on a logged table, bulwark on logged tables (the like-for-like rows) and on its default UNLOGGED table; bulwark shares one statement among the decisions of a tick (defaults 32 × 4) unless batch: false',
    mode: { kind: 'concurrent', concurrency: 64 },
    operations: 20_000,
    baseline: 'rate-limiter-flexible RateLimiterPostgres',
    subjects: {
      'bare SELECT 1 (same pool size)': () => {
        const connections = pool();
        return { run: () => connections.query('SELECT 1') };
      },
      'rate-limiter-flexible RateLimiterPostgres': async () => {
        const tableName = `bench_rlf_${tableSuffix}`;
        tables.push(tableName);
        const connections = pool();
        // Its own DDL (RateLimiterPostgres._getCreateTableStmt), created here as a logged table so
        // both libraries write the WAL; tableCreated: true then skips its CREATE TABLE.
        await connections.query(
          `CREATE TABLE IF NOT EXISTS "${tableName}" (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
        );
        const limiter = new RateLimiterPostgres({
          storeClient: connections,
          storeType: 'pool',
          tableName,
          tableCreated: true,
          points: HUGE,
          duration: 60,
          clearExpiredByTimeout: false,
        });
        const next = cycler();
        return { run: () => limiter.consume(next()) };
      },
      'bulwark fixedWindow (logged)': postgresBulwark(fixedWindow({ limit: HUGE, windowMs: 60_000 }), false),
      'bulwark gcra (logged)': postgresBulwark(gcra({ rate: 1_000_000, periodMs: 1_000, burst: HUGE }), false),
      'bulwark slidingWindow (logged)': postgresBulwark(slidingWindow({ limit: HUGE, windowMs: 60_000 }), false),
      // One statement per decision, no coalescing (what main did before issue #21).
      'bulwark gcra (logged, batch: false)': postgresBulwark(
        gcra({ rate: 1_000_000, periodMs: 1_000, burst: HUGE }),
        false,
        false,
      ),
      'bulwark fixedWindow': postgresBulwark(fixedWindow({ limit: HUGE, windowMs: 60_000 }), true),
      'bulwark gcra': postgresBulwark(gcra({ rate: 1_000_000, periodMs: 1_000, burst: HUGE }), true),
      'bulwark slidingWindow': postgresBulwark(slidingWindow({ limit: HUGE, windowMs: 60_000 }), true),
    },
    teardown: async () => {
      const [first] = pools;
      for (const table of tables.splice(0)) await first?.query(`DROP TABLE IF EXISTS "${table}"`);
      await Promise.all(pools.splice(0).map((connections) => connections.end()));
    },
  },
];
export default definitions;
