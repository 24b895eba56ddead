// The cache beside bentocache 1.6 and cache-manager 7 (keyv; @keyv/redis for Redis), same settings:
// 60 s ttl, JSON values, one key read again and again. bulwark and bentocache share one ioredis client
// (auto-pipelining on); cache-manager's @keyv/redis brings its own node-redis client.
//   cache.memory-hit   one caller, sequential getOrSet of a key already cached in memory
//   cache.redis-hit    64 callers, getOrSet of a key cached in Redis only (no memory tier): one GET each
//   cache.two-tier-hit 64 callers, memory tier in front of Redis (what a service runs): memory hits
//   cache.stampede     1,000 concurrent callers of a cold key whose factory takes 20 ms, 10 keys per
//                      round; the time per stampede, and how many factory calls each library made
import { randomUUID } from 'node:crypto';
import { cache, memoryCacheStore } from '@bulwark/resilience';
import { redisCacheStore } from '@bulwark/resilience/redis';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import type { BenchmarkDefinition, SubjectResult } from '../harness.js';

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const value = { id: 'p-1', name: 'Kettle', priceCents: 4_200, tags: ['kitchen', 'steel'] };
const load = async () => value;
const ttlMs = 60_000;

interface Subjects {
  bulwark: () => Promise<unknown>;
  bentocache: () => Promise<unknown>;
  'cache-manager': () => Promise<unknown>;
}

/** Builds the three libraries for one tier setup; `close` releases their connections. */
async function libraries(tier: 'memory' | 'redis' | 'two-tier', prefix: string) {
  // ioredis with auto-pipelining (what a busy service sets; node-redis under keyv pipelines by default).
  const redis = tier === 'memory' ? undefined : new Redis(url, { enableAutoPipelining: true });
  const bulwark = cache({
    store: redis ? redisCacheStore(redis, { prefix: `${prefix}bulwark:` }) : memoryCacheStore(),
    ...(tier === 'two-tier' ? { memory: memoryCacheStore() } : {}),
    ttlMs,
  });
  let store = bentostore();
  if (tier !== 'redis') store = store.useL1Layer(memoryDriver({ maxItems: 10_000 }));
  if (redis) store = store.useL2Layer(redisDriver({ connection: redis, prefix: `${prefix}bento` }));
  const bento = new BentoCache({ default: 'cache', stores: { cache: store } });
  const keyvRedis = redis ? new KeyvRedis(url) : undefined;
  const stores =
    tier === 'memory'
      ? [new Keyv()]
      : tier === 'redis'
        ? [new Keyv({ store: keyvRedis, namespace: `${prefix}cm` })]
        : [new Keyv(), new Keyv({ store: keyvRedis, namespace: `${prefix}cm` })];
  const manager = createCache({ stores, ttl: ttlMs });
  return {
    bulwark,
    bento,
    manager,
    async close() {
      await bulwark.close();
      await bento.disconnectAll();
      await manager.disconnect().catch(() => {});
      await redis?.quit();
    },
  };
}

function hitSuite(name: string, description: string, tier: 'memory' | 'redis' | 'two-tier'): BenchmarkDefinition {
  const prefix = `bench:cache:${process.pid}:${randomUUID().slice(0, 8)}:`;
  let built: Awaited<ReturnType<typeof libraries>> | undefined;
  const subjects = async (): Promise<Subjects> => {
    built ??= await libraries(tier, prefix);
    const { bulwark, bento, manager } = built;
    return {
      bulwark: () => bulwark.getOrSet('product:1', load),
      bentocache: () => bento.getOrSet({ key: 'product:1', factory: load, ttl: ttlMs }),
      'cache-manager': () => manager.wrap('product:1', load, ttlMs),
    };
  };
  const subject = (library: keyof Subjects) => async () => {
    const run = (await subjects())[library];
    await run();
    return { run };
  };
  return {
    name,
    description,
    mode: tier === 'memory' ? { kind: 'op' } : { kind: 'concurrent', concurrency: 64 },
    operations: tier === 'memory' ? 200_000 : 20_000,
    baseline: 'bentocache',
    subjects: {
      bulwark: subject('bulwark'),
      bentocache: subject('bentocache'),
      'cache-manager': subject('cache-manager'),
    },
    teardown: async () => {
      await built?.close();
      built = undefined;
    },
  };
}

const stampede: BenchmarkDefinition = {
  name: 'cache.stampede',
  description:
    '1,000 concurrent getOrSet of a cold key (factory 20 ms), 10 keys a round, two-tier on Redis; ns/op is per stampede; factory calls printed',
  mode: { kind: 'op' },
  operations: 10,
  baseline: 'bentocache',
  subjects: {},
  measure: async () => {
    const prefix = `bench:cache:${process.pid}:${randomUUID().slice(0, 8)}:`;
    const built = await libraries('two-tier', prefix);
    const calls: Record<keyof Subjects, number> = { bulwark: 0, bentocache: 0, 'cache-manager': 0 };
    const slow = (library: keyof Subjects) => async () => {
      calls[library] += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return value;
    };
    const runs: Record<keyof Subjects, (key: string) => Promise<unknown>> = {
      bulwark: (key) => built.bulwark.getOrSet(key, slow('bulwark')),
      bentocache: (key) => built.bento.getOrSet({ key, factory: slow('bentocache'), ttl: ttlMs }),
      'cache-manager': (key) => built.manager.wrap(key, slow('cache-manager'), ttlMs),
    };
    const results: SubjectResult[] = [];
    const rounds = 5;
    const samples = new Map<keyof Subjects, number[]>();
    for (let round = 0; round < rounds; round += 1) {
      for (const library of Object.keys(runs) as (keyof Subjects)[]) {
        const started = process.hrtime.bigint();
        for (let key = 0; key < 10; key += 1) {
          const cold = `cold:${round}:${key}`;
          await Promise.all(Array.from({ length: 1_000 }, () => runs[library](cold)));
        }
        const list = samples.get(library) ?? [];
        list.push(Number(process.hrtime.bigint() - started) / 10);
        samples.set(library, list);
      }
    }
    for (const [library, roundsNsPerOp] of samples) {
      const sorted = [...roundsNsPerOp].sort((a, b) => a - b);
      const nsPerOp = sorted[Math.floor(sorted.length / 2)] as number;
      results.push({
        subject: `${library} (${calls[library] / (rounds * 10)} factory calls per stampede)`,
        nsPerOp,
        opsPerSecond: 1e9 / nsPerOp,
        roundsNsPerOp,
      });
    }
    console.log(`[cache.stampede] factory calls over ${rounds * 10} stampedes of 1,000 callers:`, calls);
    await built.close();
    return results;
  },
};
// The baseline row is named after its factory count; point the ratio at it.
stampede.baseline = undefined;

export default [
  hitSuite('cache.memory-hit', 'getOrSet of a key in memory, one caller, sequential', 'memory'),
  hitSuite('cache.redis-hit', 'getOrSet of a key in Redis (no memory tier), 64 callers', 'redis'),
  hitSuite('cache.two-tier-hit', 'getOrSet with a memory tier in front of Redis, 64 callers', 'two-tier'),
  stampede,
];
