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
  /**
   * Coalesce the decisions requested in the same tick of the event loop into one script call
   * (each decision still atomic, in request order). Under concurrency this does fewer, larger round
   * trips, which is much cheaper for both Node and Redis; a lone call is sent at once (after the
   * current tick). Ignored (off) for a Redis Cluster client, whose keys may live on several nodes.
   * @defaultValue true
   */
  readonly batch?: boolean;
  /**
   * Most decisions in one script call, bounding how long Redis is busy with one call.
   * @defaultValue 128
   */
  readonly maxBatchSize?: number;
}

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

type AlgorithmKind = RateLimitAlgorithm['kind'];
type ScriptCall = (
  scriptOrSha: string,
  keyCount: number,
  keys: readonly string[],
  args: readonly (string | number)[],
) => Promise<number[]>;

/** Decisions waiting to be sent in one script call. */
class Batch {
  readonly keys: string[] = [];
  /** Four arguments per key: cost, dry run, limit, period. */
  readonly args: (string | number)[] = [];
  readonly resolvers: ((decision: RateLimitDecision) => void)[] = [];
  readonly rejecters: ((error: unknown) => void)[] = [];
  constructor(readonly script: Script) {}
}

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/**
 * A {@link RateLimitStore} on Redis, through the caller's `ioredis` client (standalone or
 * cluster; the store never opens or closes connections).
 *
 * Each decision is one atomic step of one round trip: an `EVALSHA` of a Lua script
 * (`src/redis/lua/rate-limit-*.lua`), falling back to `EVAL` (which caches the script again) when
 * the server answers `NOSCRIPT` after a restart or `SCRIPT FLUSH`. Decisions requested in the same
 * tick share one script call (`batch`), which is how the store keeps up with many concurrent
 * callers; each is still decided atomically, in request order. Time is the server's
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
  const maxBatchSize = options.maxBatchSize ?? 128;
  const problems: string[] = [];
  if (typeof prefix !== 'string') problems.push('prefix must be a string');
  if (!redis || typeof redis.evalsha !== 'function')
    problems.push('redis must be an ioredis client (Redis or Cluster)');
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) problems.push('maxBatchSize must be a positive integer');
  if (problems.length > 0) throw new InvalidOptionsError('redisRateLimitStore', problems);
  const batching = (options.batch ?? true) && !(redis as { isCluster?: boolean }).isCluster;
  const open: Partial<Record<AlgorithmKind, Batch>> = {};
  let flushScheduled = false;

  // EVALSHA, and on NOSCRIPT (a restarted or flushed server) EVAL, which runs the script and
  // caches it again — what ioredis's defineCommand does, written out to keep one promise per call.
  const send = (batch: Batch): void => {
    const { sha, lua } = batch.script;
    const settle = (reply: number[]): void => {
      for (let index = 0; index < batch.resolvers.length; index++) {
        const base = index * 4;
        (batch.resolvers[index] as (decision: RateLimitDecision) => void)({
          allowed: reply[base] === 1,
          remaining: reply[base + 1] as number,
          retryAfterMs: Math.ceil((reply[base + 2] as number) / 1000),
          resetMs: Math.ceil((reply[base + 3] as number) / 1000),
        });
      }
    };
    const fail = (error: unknown): void => {
      for (const reject of batch.rejecters) reject(error);
    };
    // ioredis flattens array arguments: no spread of up to 5 × maxBatchSize values.
    const evalsha = redis.evalsha as unknown as ScriptCall;
    const evaluate = redis.eval as unknown as ScriptCall;
    evalsha.call(redis, sha, batch.keys.length, batch.keys, batch.args).then(settle, (error: unknown) => {
      if (!isNoScript(error)) return fail(error);
      evaluate.call(redis, lua, batch.keys.length, batch.keys, batch.args).then(settle, fail);
    });
  };

  const flush = (): void => {
    flushScheduled = false;
    for (const kind of Object.keys(open) as AlgorithmKind[]) {
      const batch = open[kind];
      open[kind] = undefined;
      if (batch) send(batch);
    }
  };

  const decide = (
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    dryRun: string,
  ): Promise<RateLimitDecision> =>
    new Promise<RateLimitDecision>((resolve, reject) => {
      const kind = algorithm.kind;
      let batch = open[kind];
      if (batch === undefined) {
        batch = new Batch(scripts[kind]);
        if (batching) {
          open[kind] = batch;
          if (!flushScheduled) {
            flushScheduled = true;
            // After every callback of this tick has had its chance to join the batch.
            process.nextTick(flush);
          }
        }
      }
      batch.keys.push(prefix + key);
      batch.args.push(cost, dryRun, algorithm.limit, kind === 'gcra' ? algorithm.intervalUs : algorithm.windowUs);
      batch.resolvers.push(resolve);
      batch.rejecters.push(reject);
      if (!batching) send(batch);
      else if (batch.keys.length >= maxBatchSize) {
        open[kind] = undefined;
        send(batch);
      }
    });

  return {
    consume(key, algorithm, cost, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      return decide(key, algorithm, cost, '0');
    },
    peek(key, algorithm, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      return decide(key, algorithm, 1, '1');
    },
    async reset(key, callOptions) {
      callOptions?.signal?.throwIfAborted();
      await redis.del(prefix + key);
    },
    async close() {},
  };
}
