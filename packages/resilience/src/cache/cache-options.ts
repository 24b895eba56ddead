import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import type { CacheBus } from './cache-bus.js';
import type { CacheLock } from './cache-lock.js';
import type { CacheStore } from './cache-store.js';
import type { MemoryCacheStore } from './memory-cache-store.js';

/** Turns values into the text every tier keeps, and back. */
export interface CacheSerializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

/** Options of one entry, given to `getOrSet` / `set`; each overrides the cache's own. */
export interface CacheEntryOptions {
  /** How long a value stays fresh. */
  readonly ttlMs?: number;
  /** How long after `ttlMs` a stale value may still be answered (on error, or while revalidating). */
  readonly graceMs?: number;
  /** Tags to invalidate the entry by. */
  readonly tags?: readonly string[];
  /** Answer a stale value at once and refresh in the background. */
  readonly staleWhileRevalidate?: boolean;
  /** With a stale value at hand, answer it when the factory takes longer than this. */
  readonly softTimeoutMs?: number;
  /** Give up on the factory after this long (its signal aborts; the caller gets a stale value or a `TimeoutError`). */
  readonly hardTimeoutMs?: number;
  /** Aborts the wait of this caller (a shared flight goes on for the others). */
  readonly signal?: AbortSignal;
}

/** Options of {@link cache}. */
export interface CacheOptions {
  /** Where entries live: a shared store (Redis) or a memory store alone. */
  readonly store: CacheStore;
  /**
   * A memory tier in front of a shared `store`, read first and kept in step with other processes by
   * `bus`. Leave unset when `store` is itself a memory store.
   */
  readonly memory?: MemoryCacheStore;
  /**
   * How long the memory tier may answer without looking at the store; bounds how long a process
   * that missed a bus message keeps an old value. @defaultValue the entry's `ttlMs`
   */
  readonly memoryTtlMs?: number;
  /** Carries invalidations to the memory tiers of other processes. */
  readonly bus?: CacheBus;
  /** Single flight across processes: one process runs the factory of a cold key, the others wait for its value. */
  readonly lock?: CacheLock;
  /** How long a process waits for another's value under `lock` before running the factory itself. @defaultValue 5_000 */
  readonly lockWaitMs?: number;
  /** How often a waiting process looks for the value under `lock`. @defaultValue 50 */
  readonly lockPollMs?: number;
  /** Freshness of entries. */
  readonly ttlMs: number;
  /** @defaultValue 0 (no stale answers) */
  readonly graceMs?: number;
  /** @defaultValue false */
  readonly staleWhileRevalidate?: boolean;
  readonly softTimeoutMs?: number;
  readonly hardTimeoutMs?: number;
  /**
   * Keep a factory's `undefined` result for this long (negative caching); without it an `undefined`
   * result is answered and not kept.
   */
  readonly negativeTtlMs?: number;
  /** Bounds each store call; past it the store counts as failed for that call. @defaultValue 1_000 */
  readonly storeTimeoutMs?: number;
  /** @defaultValue JSON */
  readonly serializer?: CacheSerializer;
  /** Name in events and snapshots. @defaultValue `'cache'` */
  readonly name?: string;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** JSON, the default serializer: `undefined` becomes the empty string and back. */
export const jsonSerializer: CacheSerializer = {
  serialize: (value) => (value === undefined ? '' : JSON.stringify(value)),
  deserialize: (text) => (text === '' ? undefined : JSON.parse(text)),
};

/** Defaults of {@link CacheOptions}. */
export const cacheDefaults = {
  graceMs: 0,
  staleWhileRevalidate: false,
  lockWaitMs: 5_000,
  lockPollMs: 50,
  storeTimeoutMs: 1_000,
  serializer: jsonSerializer,
  name: 'cache',
  clock: systemClock,
} as const;

const durations = ['graceMs', 'softTimeoutMs', 'hardTimeoutMs'] as const;

/** Checks {@link cache} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateCacheOptions(options: CacheOptions): void {
  const validator = new OptionsValidator('cache');
  validator.check(
    typeof options?.store?.get === 'function' && typeof options.store.set === 'function',
    'store must be a CacheStore',
  );
  validator.number('ttlMs', options?.ttlMs, { optional: false });
  validateEntryDurations(validator, options ?? {});
  for (const name of ['memoryTtlMs', 'lockWaitMs', 'lockPollMs', 'negativeTtlMs', 'storeTimeoutMs'] as const) {
    validator.number(name, options?.[name]);
  }
  validator.check(
    options?.memory === undefined || options.memory !== (options.store as unknown),
    'memory must be another store than store',
  );
  validator.throwIfInvalid();
}

/** Checks the per-entry options of `getOrSet` / `set` (internal). */
export function validateCacheEntryOptions(options: CacheEntryOptions): void {
  const validator = new OptionsValidator('cache entry');
  validator.number('ttlMs', options.ttlMs);
  validateEntryDurations(validator, options);
  validator.check(
    options.tags === undefined || (Array.isArray(options.tags) && options.tags.every((tag) => typeof tag === 'string')),
    'tags must be an array of strings',
  );
  validator.throwIfInvalid();
}

function validateEntryDurations(
  validator: OptionsValidator,
  options: Partial<Record<(typeof durations)[number], unknown>>,
) {
  for (const name of durations) validator.number(name, options[name]);
}
