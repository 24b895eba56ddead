import { afterAll, describe, expect, it } from 'vitest';
import { CacheStoreClosedError } from '../cache/cache-errors.js';
import type { CacheEntry, CacheStore } from '../cache/cache-store.js';
import type { Clock } from '../clock/clock.js';
import { manualClock } from './manual-clock.js';

/** Options of {@link cacheStoreConformance}. */
export interface CacheStoreConformanceOptions {
  /**
   * Makes a store on `clock`; called once per test. Make keys unique per call on shared servers
   * (a fresh prefix), since tests reuse key names.
   */
  readonly createStore: (clock: Clock) => CacheStore | Promise<CacheStore>;
  /** Called once after the suite (e.g. to quit a client the factory opened). */
  readonly close?: () => Promise<void> | void;
}

/** Strings every store keeps exactly, as keys, tags and values. */
export const cacheConformanceStrings: readonly string[] = [
  'plain',
  'with\u0000nul',
  'emoji 🛒🧾',
  '\u200Fright-to-left \u05E9\u05DC\u05D5\u05DD',
  'spaces and : colons {braces} * ? [brackets]',
  'line\nbreaks\r\nand\ttabs',
];

/**
 * The conformance suite every {@link CacheStore} must pass on its real backend: exact round trips
 * (NUL, emoji, right-to-left marks, 64 KiB keys and values), overwrite, delete, tags, expiry at
 * `staleUntil` on the store's clock, isolation of similar keys, aborted signals and close.
 *
 * @example
 * ```ts
 * cacheStoreConformance('redisCacheStore', {
 *   createStore: (clock) => redisCacheStore(redis, { prefix: `${uniqueName('cache')}:`, clock }),
 * });
 * ```
 */
export function cacheStoreConformance(name: string, options: CacheStoreConformanceOptions): void {
  describe(`CacheStore conformance: ${name}`, () => {
    afterAll(async () => {
      await options.close?.();
    });
    const start = 1_700_000_000_000;
    const setup = async () => {
      const clock = manualClock(start);
      const store = await options.createStore(clock);
      const entry = (value: string, tags: readonly string[] = [], lifetimeMs = 60_000): CacheEntry => ({
        value,
        createdAt: clock.now(),
        freshUntil: clock.now() + lifetimeMs / 2,
        staleUntil: clock.now() + lifetimeMs,
        tags,
      });
      return { clock, store, entry };
    };

    it('answers undefined for a key never set', async () => {
      const { store } = await setup();
      expect(await store.get('missing')).toBeUndefined();
    });

    it('round-trips entries exactly, with any characters in keys, tags and values', async () => {
      const { store, entry } = await setup();
      for (const text of [...cacheConformanceStrings, 'k'.repeat(65_536)]) {
        const written = entry(`value of ${text}`, [`tag ${text}`.slice(0, 1_000)]);
        await store.set(text, written);
        expect(await store.get(text)).toEqual(written);
      }
      const big = entry('v'.repeat(65_536));
      await store.set('big', big);
      expect((await store.get('big'))?.value).toBe(big.value);
    });

    it('overwrites, and keeps similar keys apart', async () => {
      const { store, entry } = await setup();
      await store.set('key', entry('one'));
      await store.set('key', entry('two'));
      await store.set('key:', entry('three'));
      await store.set('KEY', entry('four'));
      expect((await store.get('key'))?.value).toBe('two');
      expect((await store.get('key:'))?.value).toBe('three');
      expect((await store.get('KEY'))?.value).toBe('four');
    });

    it('deletes keys, ignoring missing ones', async () => {
      const { store, entry } = await setup();
      await store.set('a', entry('1'));
      await store.set('b', entry('2'));
      await store.delete(['a', 'never-set']);
      expect(await store.get('a')).toBeUndefined();
      expect((await store.get('b'))?.value).toBe('2');
    });

    it('deletes every entry of a tag and only those', async () => {
      const { store, entry } = await setup();
      for (let index = 0; index < 50; index += 1) {
        await store.set(`product:${index}`, entry(`p${index}`, ['products', index % 2 ? 'odd' : 'even']));
      }
      await store.set('user:1', entry('u1', ['users']));
      await store.deleteTags(['odd']);
      expect(await store.get('product:1')).toBeUndefined();
      expect((await store.get('product:2'))?.value).toBe('p2');
      await store.deleteTags(['products', 'no-such-tag']);
      expect(await store.get('product:2')).toBeUndefined();
      expect((await store.get('user:1'))?.value).toBe('u1');
      // A key set again after its tag was deleted is reachable by the tag again.
      await store.set('product:2', entry('again', ['products']));
      await store.deleteTags(['products']);
      expect(await store.get('product:2')).toBeUndefined();
    });

    it('stops answering an entry at its staleUntil, on the store clock', async () => {
      const { store, entry, clock } = await setup();
      await store.set('short', entry('v', [], 1_000));
      clock.advance(999);
      expect((await store.get('short'))?.value).toBe('v');
      clock.advance(1);
      expect(await store.get('short')).toBeUndefined();
    });

    it('rejects with the reason of an aborted signal, and after close', async () => {
      const { store, entry } = await setup();
      const controller = new AbortController();
      controller.abort(new Error('caller gave up'));
      const signal = controller.signal;
      await expect(store.get('a', { signal })).rejects.toThrow('caller gave up');
      await expect(store.set('a', entry('1'), { signal })).rejects.toThrow('caller gave up');
      await expect(store.delete(['a'], { signal })).rejects.toThrow('caller gave up');
      await expect(store.deleteTags(['t'], { signal })).rejects.toThrow('caller gave up');
      await store.close();
      await expect(store.get('a')).rejects.toBeInstanceOf(CacheStoreClosedError);
    });
  });
}
