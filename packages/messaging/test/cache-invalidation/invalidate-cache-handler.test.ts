import { consume, createEnvelope, type Envelope, invalidateCacheHandler, memoryTransport } from '@bulwark/messaging';
import { cache, memoryCacheBus, memoryCacheStore } from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

const flush = async (rounds = 10) => {
  for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('invalidateCacheHandler', () => {
  it('invalidates what a message names in the store and in the memory tier of every process', async () => {
    const shared = memoryCacheStore();
    const bus = memoryCacheBus();
    // Two processes over one shared store, each with its memory tier.
    const [api, worker] = [0, 1].map(() =>
      cache({ store: { ...shared, local: false }, memory: memoryCacheStore(), bus, ttlMs: 60_000 }),
    );
    await api?.set('product:p1', { stock: 5 }, { tags: ['products'] });
    await api?.set('product:p2', { stock: 7 });
    expect(await worker?.get('product:p1')).toEqual({ stock: 5 }); // now in the worker's memory tier

    const transport = memoryTransport();
    const seen: string[] = [];
    const consumer = await consume<{ productId?: string }>(transport, {
      topic: 'catalog',
      group: 'catalog-cache',
      handler: invalidateCacheHandler(api as NonNullable<typeof api>, (message: Envelope<{ productId?: string }>) => {
        seen.push(message.type);
        return message.payload.productId ? { keys: [`product:${message.payload.productId}`] } : undefined;
      }),
    });
    await transport.publish('catalog', [
      createEnvelope({ topic: 'catalog', type: 'stock-changed', payload: { productId: 'p1' } }),
      createEnvelope({ topic: 'catalog', type: 'unrelated', payload: {} }),
    ]);
    await flush();
    expect(seen).toEqual(['stock-changed', 'unrelated']);
    expect(await api?.get('product:p1')).toBeUndefined();
    expect(await worker?.get('product:p1')).toBeUndefined();
    expect(await worker?.get('product:p2')).toEqual({ stock: 7 });
    await consumer.close();
    await transport.close();
  });
});
