import type { Cache, CacheInvalidationTarget } from '@bulwark/resilience';
import type { MessageContext, MessageHandler } from '../consumer/consumer-options.js';
import type { Envelope } from '../envelope/envelope.js';

/**
 * A consumer handler that invalidates a cache on the messages of a topic: `select` says which keys
 * and tags a message makes stale (return `undefined` to ignore it). The cache clears its store and
 * its memory tier, and tells the other processes through its bus. Invalidating twice is harmless,
 * so an at-least-once transport needs no inbox for it; a failed invalidation (the store down)
 * throws, and the consumer retries the message.
 *
 * @example
 * ```ts
 * consume(transport, {
 *   topic: 'catalog',
 *   group: 'catalog-cache',
 *   handler: invalidateCacheHandler(catalogCache, (message: Envelope<{ productId: string }>) => ({
 *     keys: [`product:${message.payload.productId}`],
 *     tags: ['products'],
 *   })),
 * });
 * ```
 */
export function invalidateCacheHandler<Payload>(
  cache: Pick<Cache, 'invalidate'>,
  select: (message: Envelope<Payload>) => CacheInvalidationTarget | undefined,
): MessageHandler<Payload> {
  return async (message: Envelope<Payload>, context: MessageContext) => {
    const target = select(message);
    if (!target || (!target.keys?.length && !target.tags?.length)) return;
    await cache.invalidate(target, { signal: context.signal });
  };
}
