import {
  BrokenCircuitError,
  type CacheEntry,
  type CacheStore,
  CacheStoreError,
  cache,
  circuitBreaker,
  consecutive,
  InvalidCacheKeyError,
  InvalidOptionsError,
  memoryCacheBus,
  memoryCacheStore,
  pipeline,
  TimeoutError,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A factory that counts its calls and answers `value-<n>`. */
function counting() {
  let calls = 0;
  const factory = async () => {
    calls += 1;
    return `value-${calls}`;
  };
  return { factory, calls: () => calls };
}

/** A shared store that lives in this process but behaves like a remote one (calls are bounded). */
function remoteLike(clock = manualClock(0)): CacheStore & { down: boolean; hang: boolean } {
  const inner = memoryCacheStore({ clock });
  const store = {
    down: false,
    hang: false,
    async call<T>(run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (store.hang)
        return new Promise<T>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      if (store.down) throw new Error('ECONNREFUSED');
      return run();
    },
    get: (key: string, options?: { signal?: AbortSignal }) => store.call(() => inner.get(key), options?.signal),
    set: (key: string, entry: CacheEntry, options?: { signal?: AbortSignal }) =>
      store.call(() => inner.set(key, entry), options?.signal),
    delete: (keys: readonly string[], options?: { signal?: AbortSignal }) =>
      store.call(() => inner.delete(keys), options?.signal),
    deleteTags: (tags: readonly string[], options?: { signal?: AbortSignal }) =>
      store.call(() => inner.deleteTags(tags), options?.signal),
    close: () => inner.close(),
  };
  return store;
}

describe('cache', () => {
  it('answers a miss from the factory, then hits until ttl passes', async () => {
    const clock = manualClock(0);
    const catalog = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, clock });
    const source = counting();
    expect(await catalog.getOrSet('products', source.factory)).toBe('value-1');
    clock.advance(999);
    expect(await catalog.getOrSet('products', source.factory)).toBe('value-1');
    clock.advance(1);
    expect(await catalog.getOrSet('products', source.factory)).toBe('value-2');
    expect(catalog.snapshot()).toMatchObject({ hits: 1, misses: 2, inFlight: 0 });
  });

  it('calls the factory once for 1,000 concurrent callers of a cold key', async () => {
    const catalog = cache({ store: memoryCacheStore(), ttlMs: 60_000 });
    let calls = 0;
    let release: (value: string) => void = () => {};
    const factory = () => {
      calls += 1;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    };
    const answers = Array.from({ length: 1_000 }, () => catalog.getOrSet('cold', factory));
    await flush();
    release('made once');
    expect(new Set(await Promise.all(answers))).toEqual(new Set(['made once']));
    expect(calls).toBe(1);
  });

  it('stale-if-error: answers the stale value within grace when the factory fails, then the error', async () => {
    const clock = manualClock(0);
    const catalog = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, graceMs: 5_000, clock });
    const stale: unknown[] = [];
    catalog.on('stale', (event) => stale.push(event));
    await catalog.getOrSet('products', async () => 'good');
    clock.advance(2_000);
    const failure = new Error('database down');
    expect(await catalog.getOrSet('products', async () => Promise.reject(failure))).toBe('good');
    expect(stale).toEqual([{ key: 'products', reason: 'error', ageMs: 2_000, error: failure }]);
    clock.advance(4_000); // 6 s old: past ttl + grace
    await expect(catalog.getOrSet('products', async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('stale-if-error with an open breaker: the source is not called, the stale value is answered', async () => {
    const clock = manualClock(0);
    const catalog = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, graceMs: 60_000, clock });
    const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 30_000, clock });
    let sourceCalls = 0;
    const source = async () => {
      sourceCalls += 1;
      if (sourceCalls > 1) throw new Error('down');
      return 'catalog v1';
    };
    const read = () => catalog.getOrSet('catalog', () => breaker.execute(source));
    expect(await read()).toBe('catalog v1');
    clock.advance(1_500);
    expect(await read()).toBe('catalog v1'); // the source fails, the breaker opens
    clock.advance(1_500);
    const errors: unknown[] = [];
    catalog.on('stale', (event) => errors.push(event.error));
    expect(await read()).toBe('catalog v1');
    expect(errors[0]).toBeInstanceOf(BrokenCircuitError);
    expect(sourceCalls).toBe(2);
  });

  it('is usable in a pipeline for one key', async () => {
    const clock = manualClock(0);
    const catalog = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, clock });
    const cached = pipeline(
      catalog.policyFor('products'),
      circuitBreaker({ strategy: consecutive(3), halfOpenAfter: 1 }),
    );
    const source = counting();
    expect(await cached.execute(source.factory)).toBe('value-1');
    expect(await cached.execute(source.factory)).toBe('value-1');
    expect(source.calls()).toBe(1);
  });

  it('stale-while-revalidate: answers stale at once and refreshes in the background, once', async () => {
    const clock = manualClock(0);
    const catalog = cache({
      store: memoryCacheStore({ clock }),
      ttlMs: 1_000,
      graceMs: 10_000,
      staleWhileRevalidate: true,
      clock,
    });
    const source = counting();
    await catalog.getOrSet('products', source.factory);
    clock.advance(1_500);
    const reasons: string[] = [];
    catalog.on('stale', (event) => reasons.push(event.reason));
    expect(await catalog.getOrSet('products', source.factory)).toBe('value-1');
    expect(await catalog.getOrSet('products', source.factory)).toBe('value-1');
    await flush();
    expect(source.calls()).toBe(2);
    expect(await catalog.getOrSet('products', source.factory)).toBe('value-2');
    expect(reasons).toEqual(['revalidating', 'revalidating']);
  });

  it('reports a failed background refresh as refreshError and keeps the stale value', async () => {
    const clock = manualClock(0);
    const catalog = cache({
      store: memoryCacheStore({ clock }),
      ttlMs: 1_000,
      graceMs: 10_000,
      staleWhileRevalidate: true,
      clock,
    });
    await catalog.getOrSet('products', async () => 'v1');
    clock.advance(1_500);
    const refreshErrors: unknown[] = [];
    catalog.on('refreshError', (event) => refreshErrors.push(event.error));
    expect(await catalog.getOrSet('products', async () => Promise.reject(new Error('down')))).toBe('v1');
    await flush();
    expect(refreshErrors).toHaveLength(1);
    expect(catalog.snapshot().refreshErrors).toBe(1);
    expect(await catalog.get('products', { allowStale: true })).toBe('v1');
  });

  it('soft timeout: answers stale when the factory is slow, and stores its value when it ends', async () => {
    const clock = manualClock(0);
    const catalog = cache({
      store: memoryCacheStore({ clock }),
      ttlMs: 1_000,
      graceMs: 60_000,
      softTimeoutMs: 200,
      clock,
    });
    await catalog.getOrSet('products', async () => 'v1');
    clock.advance(2_000);
    let finish: (value: string) => void = () => {};
    const slow = () =>
      new Promise<string>((resolve) => {
        finish = resolve;
      });
    const answer = catalog.getOrSet('products', slow);
    await flush();
    clock.advance(200);
    expect(await answer).toBe('v1');
    finish('v2');
    await flush();
    expect(await catalog.get('products')).toBe('v2');
  });

  it('hard timeout: aborts the factory and rejects with TimeoutError when nothing stale is at hand', async () => {
    const clock = manualClock(0);
    const catalog = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, hardTimeoutMs: 500, clock });
    let factorySignal: AbortSignal | undefined;
    const answer = catalog.getOrSet('products', ({ signal }) => {
      factorySignal = signal;
      return new Promise<string>(() => {});
    });
    await flush();
    clock.advance(500);
    await expect(answer).rejects.toBeInstanceOf(TimeoutError);
    expect(factorySignal?.reason).toBeInstanceOf(TimeoutError);
    expect(catalog.snapshot().inFlight).toBe(0);
  });

  it('a caller whose signal aborts stops waiting; the flight goes on for the others', async () => {
    const catalog = cache({ store: memoryCacheStore(), ttlMs: 1_000 });
    let finish: (value: string) => void = () => {};
    const factory = () =>
      new Promise<string>((resolve) => {
        finish = resolve;
      });
    const controller = new AbortController();
    const leaving = catalog.getOrSet('products', factory, { signal: controller.signal });
    const staying = catalog.getOrSet('products', factory);
    await flush();
    controller.abort(new Error('client gone'));
    await expect(leaving).rejects.toThrow('client gone');
    finish('done');
    expect(await staying).toBe('done');
  });

  it('invalidates by key and by tag', async () => {
    const catalog = cache({ store: memoryCacheStore(), ttlMs: 60_000 });
    await catalog.set('product:1', 'one', { tags: ['products'] });
    await catalog.set('product:2', 'two', { tags: ['products'] });
    await catalog.set('user:1', 'ann');
    await catalog.invalidate({ tags: ['products'] });
    expect(await catalog.get('product:1')).toBeUndefined();
    expect(await catalog.get('product:2')).toBeUndefined();
    expect(await catalog.get('user:1')).toBe('ann');
    await catalog.invalidate({ keys: ['user:1'] });
    expect(await catalog.get('user:1')).toBeUndefined();
  });

  it('keeps a factory that started before an invalidation from writing its older value', async () => {
    const catalog = cache({ store: memoryCacheStore(), ttlMs: 60_000 });
    let finish: (value: string) => void = () => {};
    const answer = catalog.getOrSet(
      'product:1',
      () =>
        new Promise<string>((resolve) => {
          finish = resolve;
        }),
      { tags: ['products'] },
    );
    await flush();
    await catalog.invalidate({ tags: ['products'] });
    finish('read before the change');
    expect(await answer).toBe('read before the change');
    expect(await catalog.get('product:1')).toBeUndefined();
    expect(await catalog.getOrSet('product:1', async () => 'read after the change')).toBe('read after the change');
  });

  it('negative caching: keeps undefined only when negativeTtlMs is set', async () => {
    const clock = manualClock(0);
    const plain = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, clock });
    const negative = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, negativeTtlMs: 100, clock });
    let calls = 0;
    const missing = async () => {
      calls += 1;
      return undefined;
    };
    await plain.getOrSet('ghost', missing);
    await plain.getOrSet('ghost', missing);
    expect(calls).toBe(2);
    calls = 0;
    await negative.getOrSet('ghost', missing);
    await negative.getOrSet('ghost', missing);
    expect(calls).toBe(1);
    clock.advance(100);
    await negative.getOrSet('ghost', missing);
    expect(calls).toBe(2);
  });

  it('two tiers: an invalidation in one process clears the memory tier of the others through the bus', async () => {
    const clock = manualClock(0);
    const shared = remoteLike(clock);
    const bus = memoryCacheBus();
    const first = cache({ store: shared, memory: memoryCacheStore({ clock }), bus, ttlMs: 60_000, clock });
    const second = cache({ store: shared, memory: memoryCacheStore({ clock }), bus, ttlMs: 60_000, clock });
    await first.set('price', 10);
    expect(await second.getOrSet('price', async () => -1)).toBe(10);
    const hits: string[] = [];
    second.on('hit', (event) => hits.push(event.tier));
    expect(await second.get('price')).toBe(10);
    expect(hits).toEqual(['memory']);
    const heard: unknown[] = [];
    second.on('invalidated', (event) => heard.push(event));
    await first.invalidate({ keys: ['price'] });
    await flush();
    expect(heard).toEqual([{ keys: ['price'], tags: [], source: 'bus' }]);
    expect(second.snapshot().memory?.entries).toBe(0);
    expect(await second.getOrSet('price', async () => 12)).toBe(12);
  });

  it('callers of one key share a store read under way; a local write or invalidation makes later callers read anew', async () => {
    const clock = manualClock(0);
    const shared = remoteLike(clock);
    let reads = 0;
    const gate: { open?: () => void } = {};
    const get = shared.get;
    shared.get = async (key, options) => {
      reads += 1;
      const entry = await get(key, options);
      await new Promise<void>((resolve) => {
        gate.open = resolve;
      });
      return entry;
    };
    const catalog = cache({ store: shared, ttlMs: 60_000, clock });
    await shared.set('price', { value: '10', createdAt: 0, freshUntil: 60_000, staleUntil: 60_000, tags: [] });
    const burst = Array.from({ length: 50 }, () => catalog.get<number>('price'));
    await flush();
    expect(reads).toBe(1);
    gate.open?.();
    expect(await Promise.all(burst)).toEqual(Array.from({ length: 50 }, () => 10));
    expect(catalog.snapshot().hits).toBe(50);

    // A read under way when this process writes: callers after the write do not join it.
    const before = catalog.get<number>('price');
    await flush();
    const firstGate = gate.open;
    const written = catalog.set('price', 11);
    await flush();
    const after = catalog.get<number>('price');
    await flush();
    expect(reads).toBe(3);
    firstGate?.();
    gate.open?.();
    await written;
    expect(await before).toBe(10);
    expect(await after).toBe(11);
  });

  it('an invalidation heard while a store read is under way keeps that read out of the memory tier', async () => {
    const clock = manualClock(0);
    const shared = remoteLike(clock);
    const bus = memoryCacheBus();
    const writer = cache({ store: shared, bus, ttlMs: 60_000, clock });
    const reader = cache({ store: shared, memory: memoryCacheStore({ clock }), bus, ttlMs: 60_000, clock });
    await writer.set('price', 10);
    const gate: { open?: () => void } = {};
    const get = shared.get;
    shared.get = async (key, options) => {
      const entry = await get(key, options);
      await new Promise<void>((resolve) => {
        gate.open = resolve;
      });
      return entry;
    };
    const reading = reader.get<number>('price');
    await flush();
    shared.get = get;
    await writer.set('price', 11);
    await writer.invalidate({ keys: ['price'] });
    await flush();
    gate.open?.();
    expect(await reading).toBe(10);
    expect(reader.snapshot().memory?.entries).toBe(0);
    expect(await reader.getOrSet('price', async () => 12)).toBe(12);
  });

  it('store down: the memory tier and grace keep answering, with storeError events; back: in step again', async () => {
    const clock = manualClock(0);
    const shared = remoteLike(clock);
    const catalog = cache({
      store: shared,
      memory: memoryCacheStore({ clock }),
      ttlMs: 1_000,
      graceMs: 60_000,
      storeTimeoutMs: 100,
      clock,
    });
    await catalog.getOrSet('products', async () => 'v1');
    const storeErrors: string[] = [];
    catalog.on('storeError', (event) => storeErrors.push(event.operation));
    shared.down = true;
    clock.advance(2_000);
    expect(await catalog.getOrSet('products', async () => Promise.reject(new Error('db down')))).toBe('v1');
    expect(catalog.snapshot().health.status).toBe('degraded');
    expect(await catalog.getOrSet('products', async () => 'v2')).toBe('v2');
    expect(storeErrors).toContain('get');
    expect(storeErrors).toContain('set');
    shared.down = false;
    expect(await catalog.getOrSet('fresh', async () => 'f')).toBe('f');
    expect(catalog.snapshot().health.status).toBe('up');
  });

  it('a store that never answers is cut off after storeTimeoutMs, never hangs the caller', async () => {
    const clock = manualClock(0);
    const shared = remoteLike(clock);
    const catalog = cache({ store: shared, ttlMs: 1_000, storeTimeoutMs: 100, clock });
    shared.hang = true;
    const answer = catalog.getOrSet('products', async () => 'from source');
    await flush();
    clock.advance(100); // the get
    await flush();
    clock.advance(100); // the set
    expect(await answer).toBe('from source');
    await expect(
      (async () => {
        const invalidated = catalog.invalidate({ keys: ['products'] });
        await flush();
        clock.advance(100);
        await invalidated;
      })(),
    ).rejects.toBeInstanceOf(CacheStoreError);
  });

  it('refuses keys no store can keep exactly, and bad options, with typed errors', async () => {
    const catalog = cache({ store: memoryCacheStore(), ttlMs: 1_000 });
    await expect(catalog.getOrSet('a\uD800b', async () => 1)).rejects.toBeInstanceOf(InvalidCacheKeyError);
    await expect(catalog.getOrSet(42 as unknown as string, async () => 1)).rejects.toBeInstanceOf(InvalidCacheKeyError);
    // NUL, emoji, right-to-left marks and 64 KiB keys are kept exactly.
    for (const key of ['a\u0000b', '🛒', '\u200Fשלום', 'k'.repeat(65_536)]) {
      expect(await catalog.getOrSet(key, async () => key.length)).toBe(key.length);
      expect(await catalog.get(key)).toBe(key.length);
    }
    expect(() => cache({ store: memoryCacheStore(), ttlMs: -1, graceMs: Number.NaN })).toThrow(InvalidOptionsError);
    await expect(catalog.getOrSet('k', async () => 1, { ttlMs: -5 })).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});

describe('memoryCacheStore', () => {
  const entry = (value: string, tags: string[] = []): CacheEntry => ({
    value,
    createdAt: 0,
    freshUntil: 1_000,
    staleUntil: 2_000,
    tags,
  });

  it('evicts the least recently used entry past maxEntries', async () => {
    const store = memoryCacheStore({ maxEntries: 2, clock: manualClock(0) });
    await store.set('a', entry('1'));
    await store.set('b', entry('2'));
    await store.get('a');
    await store.set('c', entry('3'));
    expect(await store.get('b')).toBeUndefined();
    expect((await store.get('a'))?.value).toBe('1');
    expect(store.snapshot().entries).toBe(2);
  });

  it('evicts past maxBytes and drops entries past staleUntil', async () => {
    const clock = manualClock(0);
    const store = memoryCacheStore({ maxBytes: 100, clock });
    await store.set('a', entry('x'.repeat(30)));
    await store.set('b', entry('y'.repeat(30)));
    expect(await store.get('a')).toBeUndefined();
    expect(store.snapshot().bytes).toBeLessThanOrEqual(100);
    clock.advance(2_000);
    expect(await store.get('b')).toBeUndefined();
    expect(store.snapshot().entries).toBe(0);
  });
});
