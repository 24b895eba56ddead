import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { CacheLock } from '../cache/cache-lock.js';
import { redisScript, runRedisScript } from '../internal/redis/redis-script.js';
import releaseScript from './lua/cache-lock-release.lua';

const release = redisScript(releaseScript);

/**
 * A {@link CacheLock} on Redis: `SET <prefix><key> <token> NX PX <ttl>` to take it, a compare-and-
 * delete script to give it back. One key per lock, so it works on a Cluster.
 *
 * @param options.prefix Prefix of the lock keys. @defaultValue 'bulwark:cache-lock:'
 */
export function redisCacheLock(redis: Redis | Cluster, options: { readonly prefix?: string } = {}): CacheLock {
  const prefix = options.prefix ?? 'bulwark:cache-lock:';
  // One token per lock this process holds, so only the holder can release it.
  const tokens = new Map<string, string>();
  return {
    async acquire(key, ttlMs, callOptions) {
      callOptions?.signal?.throwIfAborted();
      const token = randomUUID();
      const taken = await redis.set(`${prefix}${key}`, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      if (taken !== 'OK') return false;
      tokens.set(key, token);
      return true;
    },
    async release(key) {
      const token = tokens.get(key);
      if (token === undefined) return;
      tokens.delete(key);
      await runRedisScript(redis, release, [`${prefix}${key}`], [token], { direct: true });
    },
  };
}
