import type { Cluster, Redis } from 'ioredis';
import { pipelinedBatcher, pipelinedBatcherDefaults } from '../internal/pipelined-batcher.js';
import { redisScript, runRedisScript } from '../internal/redis/redis-script.js';
import { OptionsValidator } from '../policy/options.js';
import type { RateLimitAlgorithm } from '../rate-limit/algorithms.js';
import type { RateLimitDecision, RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { invalidKey } from '../storable-text/invalid-key.js';
import fixedWindowScript from './lua/rate-limit-fixed-window.lua';
import gcraScript from './lua/rate-limit-gcra.lua';
import slidingWindowScript from './lua/rate-limit-sliding-window.lua';

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /**
   * Prefix of every Redis key the store writes.
   * @defaultValue 'bulwark:rate-limit:'
   */
  readonly prefix?: string;
  /**
   * Let concurrent callers share script calls under load: a lone call is sent at once (after
   * the current tick); decisions requested while `maxInFlight` calls are out wait and leave
   * together, each still decided atomically and in request order (see the pipelined batcher in `src/internal/redis`).
   * Ignored (off) for a Redis Cluster client, whose keys may live on several nodes.
   * @defaultValue true
   */
  readonly batch?: boolean;
  /**
   * Most decisions in one script call, bounding how long Redis is busy with one call.
   * @defaultValue 16
   */
  readonly maxBatchSize?: number;
  /**
   * Most script calls of one algorithm awaiting Redis at once, when batching.
   * @defaultValue 8
   */
  readonly maxInFlight?: number;
}

const scripts = {
  gcra: redisScript(gcraScript),
  'fixed-window': redisScript(fixedWindowScript),
  'sliding-window': redisScript(slidingWindowScript),
} as const;

type AlgorithmKind = RateLimitAlgorithm['kind'];

/** One decision to send: its key and the four arguments of the scripts. */
interface DecisionRequest {
  readonly key: string;
  readonly cost: number;
  readonly dryRun: boolean;
  readonly limit: number;
  readonly period: number;
}

/**
 * A {@link RateLimitStore} on Redis, through the caller's `ioredis` client (standalone or
 * cluster; the store never opens or closes connections).
 *
 * Each decision is one atomic step of one round trip: an `EVALSHA` of a Lua script
 * (`src/redis/lua/rate-limit-*.lua`), falling back to `EVAL` (which caches the script again) when
 * the server answers `NOSCRIPT` after a restart or `SCRIPT FLUSH`. Under load, concurrent
 * decisions share script calls (`batch`), which is how the store keeps up with many callers;
 * each is still decided atomically, in request order. Time is the server's
 * `TIME`, so application instances with skewed clocks agree. Keys expire (`PX`) as soon as they
 * are back to the full limit.
 *
 * A call that times out in the limiter may still reach Redis once the connection is back (ioredis
 * queues commands while reconnecting); set `maxRetriesPerRequest` / `enableOfflineQueue` on the
 * client to bound that.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { rateLimiter, slidingWindow } from '@bulwark/resilience';
 * import { redisRateLimitStore } from '@bulwark/resilience/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL);
 * const limiter = rateLimiter({
 *   name: 'api',
 *   algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }),
 *   store: redisRateLimitStore(redis),
 * });
 * ```
 */
export function redisRateLimitStore(redis: Redis | Cluster, options: RedisRateLimitStoreOptions = {}): RateLimitStore {
  const prefix = options.prefix ?? 'bulwark:rate-limit:';
  const maxBatchSize = options.maxBatchSize ?? pipelinedBatcherDefaults.maxBatchSize;
  const maxInFlight = options.maxInFlight ?? pipelinedBatcherDefaults.maxInFlight;
  const validator = new OptionsValidator('redisRateLimitStore');
  if (typeof prefix !== 'string') validator.report('prefix must be a string');
  if (!redis || typeof redis.evalsha !== 'function')
    validator.report('redis must be an ioredis client (Redis or Cluster)');
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) validator.report('maxBatchSize must be a positive integer');
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) validator.report('maxInFlight must be a positive integer');
  validator.throwIfInvalid();
  const batching = (options.batch ?? true) && !(redis as { isCluster?: boolean }).isCluster;

  // One script call for the given decisions; the reply is four numbers per decision.
  const send = async (kind: AlgorithmKind, requests: readonly DecisionRequest[]): Promise<RateLimitDecision[]> => {
    const keys: string[] = [];
    const args: number[] = [];
    for (const request of requests) {
      keys.push(request.key);
      args.push(request.cost, request.dryRun ? 1 : 0, request.limit, request.period);
    }
    const reply = (await runRedisScript(redis, scripts[kind], keys, args, { direct: true })) as number[];
    return requests.map((_, index) => {
      const base = index * 4;
      return {
        allowed: reply[base] === 1,
        remaining: reply[base + 1] as number,
        retryAfterMs: Math.ceil((reply[base + 2] as number) / 1000),
        resetMs: Math.ceil((reply[base + 3] as number) / 1000),
      };
    });
  };
  const batchers = new Map<AlgorithmKind, (request: DecisionRequest) => Promise<RateLimitDecision>>();
  const batcherOf = (kind: AlgorithmKind) => {
    let batcher = batchers.get(kind);
    if (!batcher) {
      batcher = pipelinedBatcher({ maxBatchSize, maxInFlight, send: (requests) => send(kind, requests) });
      batchers.set(kind, batcher);
    }
    return batcher;
  };

  const decide = async (
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    dryRun: boolean,
  ): Promise<RateLimitDecision> => {
    const request: DecisionRequest = {
      key: prefix + key,
      cost,
      dryRun,
      limit: algorithm.limit,
      period: algorithm.kind === 'gcra' ? algorithm.intervalUs : algorithm.windowUs,
    };
    if (batching) return batcherOf(algorithm.kind)(request);
    return (await send(algorithm.kind, [request]))[0] as RateLimitDecision;
  };

  return {
    consume(key, algorithm, cost, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      return decide(key, algorithm, cost, false);
    },
    peek(key, algorithm, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      return decide(key, algorithm, 1, true);
    },
    async reset(key, callOptions) {
      callOptions?.signal?.throwIfAborted();
      const invalid = invalidKey('key', key);
      if (invalid) throw invalid;
      await redis.del(prefix + key);
    },
    async close() {},
  };
}
