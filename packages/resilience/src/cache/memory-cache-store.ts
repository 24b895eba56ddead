import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import { CacheStoreClosedError } from './cache-errors.js';
import type { CacheEntry, CacheStore, CacheStoreCallOptions } from './cache-store.js';

/** Options of {@link memoryCacheStore}. */
export interface MemoryCacheStoreOptions {
  /** Most entries kept; the least recently used go first. @defaultValue 10_000 */
  readonly maxEntries?: number;
  /**
   * Most bytes kept, counted as UTF-16 code units × 2 of key and value (what V8 holds for a
   * string of one-byte text is half that, so this errs on the safe side). @defaultValue 64 MiB
   */
  readonly maxBytes?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** Defaults of {@link MemoryCacheStoreOptions}. */
export const memoryCacheStoreDefaults = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

/** A {@link CacheStore} in process memory, with what it holds right now. */
export interface MemoryCacheStore extends CacheStore {
  /** Entries and bytes held now. */
  snapshot(): { readonly entries: number; readonly bytes: number };
}

interface Held {
  readonly entry: CacheEntry;
  readonly bytes: number;
}

/**
 * A bounded in-memory {@link CacheStore}: least recently used entries leave first when either
 * bound is reached; expired entries leave when read. Used alone, or as the memory tier in front
 * of Redis (`cache({ store, memory })`).
 */
export function memoryCacheStore(options: MemoryCacheStoreOptions = {}): MemoryCacheStore {
  const validator = new OptionsValidator('memoryCacheStore');
  validator.number('maxEntries', options.maxEntries, { min: 1, integer: true });
  validator.number('maxBytes', options.maxBytes, { min: 1 });
  validator.throwIfInvalid();
  const maxEntries = options.maxEntries ?? memoryCacheStoreDefaults.maxEntries;
  const maxBytes = options.maxBytes ?? memoryCacheStoreDefaults.maxBytes;
  const clock = options.clock ?? systemClock;
  // A Map iterates in insertion order: re-inserting on read makes its first key the least recently used.
  const entries = new Map<string, Held>();
  const keysByTag = new Map<string, Set<string>>();
  let bytes = 0;
  let closed = false;

  const check = (callOptions?: CacheStoreCallOptions) => {
    if (closed) throw new CacheStoreClosedError('memoryCacheStore');
    callOptions?.signal?.throwIfAborted();
  };
  const remove = (key: string) => {
    const held = entries.get(key);
    if (!held) return;
    entries.delete(key);
    bytes -= held.bytes;
    for (const tag of held.entry.tags) {
      const keys = keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) keysByTag.delete(tag);
    }
  };

  return {
    local: true,
    async get(key, callOptions) {
      check(callOptions);
      const held = entries.get(key);
      if (!held) return undefined;
      if (held.entry.staleUntil <= clock.now()) {
        remove(key);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, held);
      return held.entry;
    },
    async set(key, entry, callOptions) {
      check(callOptions);
      remove(key);
      const size = (key.length + entry.value.length) * 2;
      if (size > maxBytes) return; // larger than the whole store: not kept, like an immediate eviction
      entries.set(key, { entry, bytes: size });
      bytes += size;
      for (const tag of entry.tags) {
        const keys = keysByTag.get(tag);
        if (keys) keys.add(key);
        else keysByTag.set(tag, new Set([key]));
      }
      while (entries.size > maxEntries || bytes > maxBytes) {
        const oldest = entries.keys().next().value as string;
        remove(oldest);
      }
    },
    async delete(keys, callOptions) {
      check(callOptions);
      for (const key of keys) remove(key);
    },
    async deleteTags(tags, callOptions) {
      check(callOptions);
      for (const tag of tags) for (const key of [...(keysByTag.get(tag) ?? [])]) remove(key);
    },
    snapshot: () => ({ entries: entries.size, bytes }),
    async close() {
      closed = true;
      entries.clear();
      keysByTag.clear();
      bytes = 0;
    },
  };
}
