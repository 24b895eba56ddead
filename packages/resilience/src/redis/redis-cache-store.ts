import type { Cluster, Redis } from 'ioredis';
import { CacheStoreClosedError } from '../cache/cache-errors.js';
import type { CacheEntry, CacheStore, CacheStoreCallOptions } from '../cache/cache-store.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { redisScript, runRedisScript } from '../internal/redis/redis-script.js';
import { OptionsValidator } from '../policy/options.js';
import addToTagScript from './lua/cache-tag-add.lua';

const addToTag = redisScript(addToTagScript);

/** Options of {@link redisCacheStore}. */
export interface RedisCacheStoreOptions {
  /**
   * Prefix of the Redis keys: entries are `<prefix>entry:<key>`, tag sets `<prefix>tag:<tag>`.
   * @defaultValue 'bulwark:cache:'
   */
  readonly prefix?: string;
  /** The clock the cache uses, so entries expire on its time. @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/**
 * A {@link CacheStore} on Redis through the caller's `ioredis` client (or `Cluster`).
 *
 * An entry is one string key that Redis expires at the entry's `staleUntil` (`PX`), so a `get` is one
 * `GET`. Tags are sets of keys: a tagged `set` adds the key to each tag's set before writing the
 * entry (a crash in between leaves a set member without an entry, never an entry its tag cannot
 * reach); `deleteTags` reads each set, unlinks its keys and removes just those members, so a key
 * tagged meanwhile is not lost. Every command names one key, so the store works on a Cluster as is;
 * a `set` racing with a `deleteTags` of its tag may survive it (as in every tag scheme without a
 * global lock): the cache's own single flight keeps its older values out, other processes' racing
 * writes are newer reads.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { cache, memoryCacheStore } from '@bulwark/resilience';
 * import { redisCacheBus, redisCacheStore } from '@bulwark/resilience/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL);
 * const catalog = cache({
 *   store: redisCacheStore(redis),
 *   memory: memoryCacheStore({ maxEntries: 1_000 }),
 *   bus: redisCacheBus({ publisher: redis, subscriber: redis.duplicate() }),
 *   ttlMs: 30_000,
 *   graceMs: 10 * 60_000,
 * });
 * ```
 */
export function redisCacheStore(redis: Redis | Cluster, options: RedisCacheStoreOptions = {}): CacheStore {
  const validator = new OptionsValidator('redisCacheStore');
  validator.check(
    typeof (redis as { get?: unknown } | undefined)?.get === 'function',
    'redis must be an ioredis client or cluster',
  );
  validator.check(options.prefix === undefined || typeof options.prefix === 'string', 'prefix must be a string');
  validator.throwIfInvalid();
  const prefix = options.prefix ?? 'bulwark:cache:';
  const clock = options.clock ?? systemClock;
  const entryKey = (key: string) => `${prefix}entry:${key}`;
  const tagKey = (tag: string) => `${prefix}tag:${tag}`;
  let closed = false;

  const check = (callOptions?: CacheStoreCallOptions) => {
    if (closed) throw new CacheStoreClosedError('redisCacheStore');
    callOptions?.signal?.throwIfAborted();
  };

  return {
    async get(key, callOptions) {
      check(callOptions);
      const stored = await redis.get(entryKey(key));
      if (stored === null) return undefined;
      const entry = decode(stored);
      return entry.staleUntil > clock.now() ? entry : undefined;
    },
    async set(key, entry, callOptions) {
      check(callOptions);
      const lifetimeMs = Math.ceil(entry.staleUntil - clock.now());
      if (lifetimeMs <= 0) return;
      if (entry.tags.length) {
        await Promise.all(
          entry.tags.map((tag) => runRedisScript(redis, addToTag, [tagKey(tag)], [key, lifetimeMs], { direct: true })),
        );
      }
      await redis.set(entryKey(key), encode(entry), 'PX', lifetimeMs);
    },
    async delete(keys, callOptions) {
      check(callOptions);
      await Promise.all(keys.map((key) => redis.unlink(entryKey(key))));
    },
    async deleteTags(tags, callOptions) {
      check(callOptions);
      await Promise.all(
        tags.map(async (tag) => {
          const keys = await redis.smembers(tagKey(tag));
          if (keys.length === 0) return;
          await Promise.all(keys.map((key) => redis.unlink(entryKey(key))));
          await redis.srem(tagKey(tag), ...keys);
        }),
      );
    },
    async close() {
      closed = true;
    },
  };
}

// An entry is a JSON header line, then the value as it is: the value is not escaped a second time.
function encode(entry: CacheEntry): string {
  return `${JSON.stringify([entry.createdAt, entry.freshUntil, entry.staleUntil, entry.tags])}\n${entry.value}`;
}

function decode(stored: string): CacheEntry {
  const end = stored.indexOf('\n');
  const [createdAt, freshUntil, staleUntil, tags] = JSON.parse(stored.slice(0, end)) as [
    number,
    number,
    number,
    string[],
  ];
  return { value: stored.slice(end + 1), createdAt, freshUntil, staleUntil, tags };
}
