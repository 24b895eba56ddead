import type { Cluster, Redis } from 'ioredis';
import type { CacheBus, CacheInvalidation } from '../cache/cache-bus.js';
import { InvalidValueError } from '../errors/resilience-error.js';

/** Options of {@link redisCacheBus}. */
export interface RedisCacheBusOptions {
  /** Any client; `PUBLISH` goes through it. */
  readonly publisher: Redis | Cluster;
  /**
   * A client for this bus alone (`redis.duplicate()`): a subscribed connection can run nothing
   * else. ioredis subscribes again by itself after a reconnect.
   */
  readonly subscriber: Redis | Cluster;
  /** @defaultValue 'bulwark:cache:invalidations' */
  readonly channel?: string;
  /** Called with a message that is not a cache invalidation (another program on the channel). */
  readonly onError?: (error: unknown) => void;
}

/**
 * A {@link CacheBus} on Redis pub/sub. Delivery is at most once: a process disconnected while a
 * message was published does not get it, and keeps its memory-tier copy until `memoryTtlMs`.
 */
export function redisCacheBus(options: RedisCacheBusOptions): CacheBus {
  const channel = options.channel ?? 'bulwark:cache:invalidations';
  const listeners = new Set<(message: CacheInvalidation) => void>();
  let subscribed: Promise<unknown> | undefined;
  const onMessage = (from: string, text: string) => {
    if (from !== channel) return;
    let message: CacheInvalidation;
    try {
      message = JSON.parse(text) as CacheInvalidation;
      if (!Array.isArray(message.keys) || !Array.isArray(message.tags))
        throw new InvalidValueError('cache invalidation message', 'has no keys and tags arrays');
    } catch (error) {
      options.onError?.(error);
      return;
    }
    for (const listener of [...listeners]) listener(message);
  };
  return {
    async publish(message, callOptions) {
      callOptions?.signal?.throwIfAborted();
      await options.publisher.publish(channel, JSON.stringify(message));
    },
    subscribe(listener) {
      listeners.add(listener);
      if (!subscribed) {
        options.subscriber.on('message', onMessage);
        subscribed = options.subscriber.subscribe(channel).catch((error: unknown) => options.onError?.(error));
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && subscribed) {
          subscribed = undefined;
          options.subscriber.off('message', onMessage);
          void options.subscriber.unsubscribe(channel).catch(() => {});
        }
      };
    },
  };
}
