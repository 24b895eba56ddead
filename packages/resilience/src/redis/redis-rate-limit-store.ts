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
type ScriptCommand = (key: string, cost: number, dryRun: string, limit: number, period: number) => Promise<ScriptReply>;

const commands = {
  gcra: { name: 'bulwarkRateLimitGcra', lua: gcraScript },
  'fixed-window': { name: 'bulwarkRateLimitFixedWindow', lua: fixedWindowScript },
  'sliding-window': { name: 'bulwarkRateLimitSlidingWindow', lua: slidingWindowScript },
} as const;

const toDecision = (reply: ScriptReply): RateLimitDecision => ({
  allowed: reply[0] === 1,
  remaining: reply[1],
  retryAfterMs: Math.ceil(reply[2] / 1000),
  resetMs: Math.ceil(reply[3] / 1000),
});

/**
 * A {@link RateLimitStore} on Redis, through the caller's `ioredis` client (standalone or
 * cluster; the store never opens or closes connections).
 *
 * Each decision is one round trip: an `EVALSHA` of a Lua script (`src/redis/lua/rate-limit-*.lua`)
 * registered with ioredis's `defineCommand`, which falls back to `EVAL` (and so reloads the script)
 * when the server answers `NOSCRIPT` after a restart or `SCRIPT FLUSH`. Time is the server's
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
  if (!redis || typeof redis.defineCommand !== 'function')
    throw new InvalidOptionsError('redisRateLimitStore', ['redis must be an ioredis client (Redis or Cluster)']);
  const client = redis as unknown as Record<string, ScriptCommand>;
  for (const { name, lua } of Object.values(commands)) {
    if (typeof client[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 1, lua });
  }
  const gcra = (client[commands.gcra.name] as ScriptCommand).bind(redis);
  const fixedWindow = (client[commands['fixed-window'].name] as ScriptCommand).bind(redis);
  const slidingWindow = (client[commands['sliding-window'].name] as ScriptCommand).bind(redis);

  const run = (key: string, algorithm: RateLimitAlgorithm, cost: number, dryRun: string): Promise<ScriptReply> => {
    switch (algorithm.kind) {
      case 'gcra':
        return gcra(prefix + key, cost, dryRun, algorithm.limit, algorithm.intervalUs);
      case 'fixed-window':
        return fixedWindow(prefix + key, cost, dryRun, algorithm.limit, algorithm.windowUs);
      case 'sliding-window':
        return slidingWindow(prefix + key, cost, dryRun, algorithm.limit, algorithm.windowUs);
    }
  };

  return {
    consume(key, algorithm, cost, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      return run(key, algorithm, cost, '0').then(toDecision);
    },
    peek(key, algorithm, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      return run(key, algorithm, 1, '1').then(toDecision);
    },
    async reset(key, callOptions) {
      callOptions?.signal?.throwIfAborted();
      await redis.del(prefix + key);
    },
    async close() {},
  };
}
