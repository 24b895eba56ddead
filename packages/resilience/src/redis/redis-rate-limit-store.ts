import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { InvalidOptionsError } from '../errors/resilience-error.js';
import type { RateLimitAlgorithm } from '../rate-limit/algorithms.js';
import type { RateLimitDecision, RateLimitStore } from '../rate-limit/rate-limit-store.js';
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
}

/** The reply of every rate-limit script: allowed (1|0), remaining, retry after (µs), reset (µs). */
type ScriptReply = [number, number, number, number];

/** A script, with its SHA1 for `EVALSHA`. */
interface Script {
  readonly lua: string;
  readonly sha: string;
}
const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
const scripts = {
  gcra: script(gcraScript),
  'fixed-window': script(fixedWindowScript),
  'sliding-window': script(slidingWindowScript),
} as const;

const toDecision = (reply: ScriptReply): RateLimitDecision => ({
  allowed: reply[0] === 1,
  remaining: reply[1],
  retryAfterMs: Math.ceil(reply[2] / 1000),
  resetMs: Math.ceil(reply[3] / 1000),
});

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * A {@link RateLimitStore} on Redis, through the caller's `ioredis` client (standalone or
 * cluster; the store never opens or closes connections).
 *
 * Each decision is one round trip: an `EVALSHA` of a Lua script (`src/redis/lua/rate-limit-*.lua`),
 * falling back to `EVAL` (which caches the script again) when the server answers `NOSCRIPT`
 * after a restart or `SCRIPT FLUSH`. Time is the server's
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
  if (typeof prefix !== 'string') throw new InvalidOptionsError('redisRateLimitStore', ['prefix must be a string']);
  if (!redis || typeof redis.evalsha !== 'function')
    throw new InvalidOptionsError('redisRateLimitStore', ['redis must be an ioredis client (Redis or Cluster)']);
  // EVALSHA, and on NOSCRIPT (a restarted or flushed server) EVAL, which runs the script and
  // caches it again. What ioredis's defineCommand does, written out: one promise per decision
  // instead of three, measurably cheaper at high concurrency (see bench/src/suites/rate-limit.bench.ts).
  const run = (
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    dryRun: string,
  ): Promise<RateLimitDecision> => {
    const { lua, sha } = scripts[algorithm.kind];
    const period = algorithm.kind === 'gcra' ? algorithm.intervalUs : algorithm.windowUs;
    const redisKey = prefix + key;
    return (redis.evalsha(sha, 1, redisKey, cost, dryRun, algorithm.limit, period) as Promise<ScriptReply>).then(
      toDecision,
      (error: unknown) => {
        if (!isNoScript(error)) throw error;
        return (redis.eval(lua, 1, redisKey, cost, dryRun, algorithm.limit, period) as Promise<ScriptReply>).then(
          toDecision,
        );
      },
    );
  };

  return {
    consume(key, algorithm, cost, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      return run(key, algorithm, cost, '0');
    },
    peek(key, algorithm, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      return run(key, algorithm, 1, '1');
    },
    async reset(key, callOptions) {
      callOptions?.signal?.throwIfAborted();
      await redis.del(prefix + key);
    },
    async close() {},
  };
}
