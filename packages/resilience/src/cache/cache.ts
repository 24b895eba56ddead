import { randomUUID } from 'node:crypto';
import { type DeadlineEntry, DeadlineQueue } from '../clock/deadline-queue.js';
import { delay } from '../clock/delay.js';
import { ResilienceError } from '../errors/resilience-error.js';
import type { EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import type { ExecuteOptions, ExecutionContext, Policy } from '../policy/policy.js';
import { TimeoutError } from '../timeout/timeout-errors.js';
import type { CacheInvalidation } from './cache-bus.js';
import { CacheStoreError, InvalidCacheKeyError } from './cache-errors.js';
import type { CacheEvents } from './cache-events.js';
import {
  type CacheEntryOptions,
  type CacheOptions,
  cacheDefaults,
  validateCacheEntryOptions,
  validateCacheOptions,
} from './cache-options.js';
import type { CacheEntry } from './cache-store.js';

/** What a factory receives. */
export interface CacheFactoryContext {
  /** Aborts when the factory's hard timeout passes or the cache closes. */
  readonly signal: AbortSignal;
  /**
   * The stale value at hand, if any (e.g. for a conditional request). Typed `unknown` so that the
   * factory's return type alone decides the type of `getOrSet`.
   */
  readonly stale: unknown;
}

/** Produces the value of a key on a miss. */
export type CacheFactory<T> = (context: CacheFactoryContext) => T | PromiseLike<T>;

/** Counters and state for dashboards. */
export interface CacheSnapshot {
  readonly name: string;
  readonly hits: number;
  readonly misses: number;
  readonly staleAnswers: number;
  readonly refreshErrors: number;
  readonly storeErrors: number;
  /** Factories running now. */
  readonly inFlight: number;
  /** The memory tier's size, when there is one. */
  readonly memory?: { readonly entries: number; readonly bytes: number };
  /** `degraded` since the last store call failed, until one succeeds. */
  readonly health: { readonly status: 'up' | 'degraded'; readonly since?: number; readonly lastError?: string };
}

/** What to invalidate. */
export interface CacheInvalidationTarget {
  readonly keys?: readonly string[];
  readonly tags?: readonly string[];
}

/** A cache returned by {@link cache}. */
export interface Cache {
  /**
   * Answers the value of `key`: fresh from a tier, else from `factory` (one run per key at a time
   * in this process, and across processes with `lock`), else stale within the grace period when
   * the factory fails (stale-if-error) or is slow (`softTimeoutMs`); with `staleWhileRevalidate`
   * a stale value is answered at once while the factory refreshes it in the background. Callers of a
   * key whose store read is under way share that read; callers that share it get the same value object.
   */
  getOrSet<T>(key: string, factory: CacheFactory<T>, options?: CacheEntryOptions): Promise<T>;
  /** The fresh value of `key`, or `undefined`; with `allowStale`, a value within grace too. */
  get<T>(
    key: string,
    options?: { readonly signal?: AbortSignal; readonly allowStale?: boolean },
  ): Promise<T | undefined>;
  /** Stores `value` under `key`. */
  set<T>(key: string, value: T, options?: CacheEntryOptions): Promise<void>;
  /**
   * Removes keys and tagged entries from the store and this memory tier, tells the other processes
   * through the bus, and keeps a factory already running for them from writing its older value.
   * Rejects with a `CacheStoreError` when the store could not be reached (the rest is done).
   */
  invalidate(target: CacheInvalidationTarget, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** This cache as a policy for one key, for `pipeline(cache.policyFor('catalog'), breaker, retry)`. */
  policyFor(key: string, options?: CacheEntryOptions): Policy;
  on<K extends keyof CacheEvents>(name: K, listener: Listener<CacheEvents[K]>): EventSubscription;
  snapshot(): CacheSnapshot;
  /** Stops listening to the bus. Stores and bus were made by the caller and stay open. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Flight {
  promise: Promise<CacheEntry>;
  readonly tags: readonly string[];
  /** Set by `invalidate`: the value, computed from older data, must not be written. */
  superseded: boolean;
  /** Whether a failure is reported as `refreshError` (no caller waits for it any more). */
  background: boolean;
}

interface Found {
  readonly entry: CacheEntry;
  readonly tier: 'memory' | 'store';
}

const softTimedOut = Symbol('soft timeout');
const noEntryOptions: CacheEntryOptions = {};
// Lone surrogates do not survive UTF-8 (Redis, PostgreSQL): such a key would collide with others.
const loneSurrogate = /\p{Cs}/u;

/**
 * A cache policy: `getOrSet` with per-entry TTL, stale-while-revalidate, stale-if-error within a
 * grace period, single flight per key (and across processes with `lock`), soft and hard factory
 * timeouts, tags, negative caching, and a memory tier kept in step across processes by a bus.
 *
 * @example
 * ```ts
 * const catalog = cache({ store: memoryCacheStore(), ttlMs: 30_000, graceMs: 10 * 60_000 });
 * const products = await catalog.getOrSet('products', () => db.listProducts(), { tags: ['products'] });
 * await catalog.invalidate({ tags: ['products'] });
 * ```
 */
export function cache(options: CacheOptions): Cache {
  validateCacheOptions(options);
  const { store, memory, bus, lock } = options;
  const clock = options.clock ?? cacheDefaults.clock;
  const serializer = options.serializer ?? cacheDefaults.serializer;
  const storeTimeoutMs = options.storeTimeoutMs ?? cacheDefaults.storeTimeoutMs;
  const lockWaitMs = options.lockWaitMs ?? cacheDefaults.lockWaitMs;
  const lockPollMs = options.lockPollMs ?? cacheDefaults.lockPollMs;
  const name = options.name ?? cacheDefaults.name;
  const origin = randomUUID();
  const emitters = {
    hit: new EventEmitter<CacheEvents['hit']>(),
    miss: new EventEmitter<CacheEvents['miss']>(),
    stale: new EventEmitter<CacheEvents['stale']>(),
    refreshError: new EventEmitter<CacheEvents['refreshError']>(),
    storeError: new EventEmitter<CacheEvents['storeError']>(),
    invalidated: new EventEmitter<CacheEvents['invalidated']>(),
  };
  const counters = { hits: 0, misses: 0, staleAnswers: 0, refreshErrors: 0, storeErrors: 0 };
  let health: CacheSnapshot['health'] = { status: 'up' };
  const flights = new Map<string, Flight>();
  // Deserialize each entry object once: the memory tier hands back the same object on every hit.
  const values = new WeakMap<CacheEntry, unknown>();
  const closing = new AbortController();

  const decoded = <T>(entry: CacheEntry): T => {
    const known = values.get(entry);
    if (known !== undefined || values.has(entry)) return known as T;
    const value = serializer.deserialize(entry.value);
    // Callers sharing one store read get one entry object: they share its value, as memory hits do.
    values.set(entry, value);
    return value as T;
  };

  const checkKey = (key: unknown): void => {
    if (typeof key !== 'string') throw new InvalidCacheKeyError(key, `keys are strings, got ${typeof key}`);
    if (loneSurrogate.test(key)) throw new InvalidCacheKeyError(key, 'the key has a lone UTF-16 surrogate');
  };

  // One clock timer for every store call's deadline, not a timer per call (the Redis hit path).
  const storeDeadlines = new DeadlineQueue(clock, storeTimeoutMs);
  const bounded = <T>(operation: CacheStoreError['operation'], call: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const deadline: DeadlineEntry = {
        dueAt: 0,
        queued: false,
        onDeadline: () =>
          reject(new CacheStoreError(operation, `cache store ${operation} took over ${storeTimeoutMs} ms`)),
      };
      storeDeadlines.add(deadline);
      call().then(
        (value) => {
          storeDeadlines.remove(deadline);
          resolve(value);
        },
        (error: unknown) => {
          storeDeadlines.remove(deadline);
          reject(error);
        },
      );
    });

  /** Runs a store call bounded by `storeTimeoutMs`; a failure becomes an event and a result, never a throw. */
  const callStore = async <T>(
    operation: CacheStoreError['operation'],
    call: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: CacheStoreError }> => {
    try {
      // A store in this process never waits on I/O: no deadline for it (the memory-only hit path).
      const value = await (store.local ? call() : bounded(operation, call));
      if (health.status !== 'up') health = { status: 'up' };
      return { ok: true, value };
    } catch (cause) {
      const error =
        cause instanceof CacheStoreError
          ? cause
          : new CacheStoreError(operation, `cache store ${operation} failed`, { cause });
      counters.storeErrors += 1;
      const lastError = String(error.cause ?? error.message);
      health =
        health.status === 'up' ? { status: 'degraded', since: clock.now(), lastError } : { ...health, lastError };
      if (emitters.storeError.hasListeners) emitters.storeError.emit({ operation, error: error.cause ?? error });
      return { ok: false, error };
    }
  };

  /** The memory tier's copy answers fresh at most `memoryTtlMs` after it was taken from the store. */
  const forMemory = (entry: CacheEntry): CacheEntry => {
    if (options.memoryTtlMs === undefined) return entry;
    const freshUntil = Math.min(entry.freshUntil, clock.now() + options.memoryTtlMs);
    if (freshUntil === entry.freshUntil) return entry;
    const copy = { ...entry, freshUntil };
    if (values.has(entry)) values.set(copy, values.get(entry));
    return copy;
  };

  // Callers of one key share a store read that is under way (one GET for a burst of callers, as
  // cache-manager's coalescing does); a local write or invalidation makes later callers read anew.
  const reads = new Map<string, Promise<{ entry: CacheEntry | undefined } | undefined>>();
  let invalidations = 0;
  const forgetReads = (keys: readonly string[], tags: readonly string[]) => {
    invalidations += 1;
    if (tags.length) reads.clear();
    else for (const key of keys) reads.delete(key);
  };
  /** Reads `key` from the store and fills the memory tier; `undefined` when the store failed. */
  const readStore = async (key: string): Promise<{ entry: CacheEntry | undefined } | undefined> => {
    const generation = invalidations;
    const stored = await callStore('get', () => store.get(key));
    if (!stored.ok) return undefined;
    // An invalidation that came while the read was under way may concern what it read: keep it out of memory.
    if (stored.value && memory && generation === invalidations) {
      const copy = forMemory(stored.value);
      values.set(copy, decoded(stored.value));
      await memory.set(key, copy);
    }
    return { entry: stored.value };
  };

  const sharedRead = (key: string) => {
    if (store.local) return readStore(key);
    let read = reads.get(key);
    if (read) return read;
    read = readStore(key);
    reads.set(key, read);
    const forget = () => {
      if (reads.get(key) === read) reads.delete(key);
    };
    read.then(forget, forget);
    return read;
  };

  const lookup = async (key: string): Promise<Found | undefined> => {
    let remembered: CacheEntry | undefined;
    if (memory) {
      remembered = await memory.get(key);
      if (remembered && clock.now() < remembered.freshUntil) return { entry: remembered, tier: 'memory' };
    }
    const stored = await sharedRead(key);
    if (stored) return stored.entry ? { entry: stored.entry, tier: 'store' } : undefined;
    // The store is unreachable: the memory tier's older copy may still serve within its grace.
    return remembered ? { entry: remembered, tier: 'memory' } : undefined;
  };

  const write = async (key: string, entry: CacheEntry): Promise<void> => {
    reads.delete(key);
    if (memory) await memory.set(key, forMemory(entry));
    await callStore('set', () => store.set(key, entry));
  };

  const makeEntry = (value: unknown, entryOptions: CacheEntryOptions): CacheEntry => {
    const now = clock.now();
    const ttlMs =
      value === undefined && options.negativeTtlMs !== undefined
        ? options.negativeTtlMs
        : (entryOptions.ttlMs ?? options.ttlMs);
    const graceMs = entryOptions.graceMs ?? options.graceMs ?? cacheDefaults.graceMs;
    const entry: CacheEntry = {
      value: serializer.serialize(value),
      createdAt: now,
      freshUntil: now + ttlMs,
      staleUntil: now + ttlMs + graceMs,
      tags: entryOptions.tags ?? [],
    };
    values.set(entry, value);
    return entry;
  };

  /** Waits up to `lockWaitMs` for the process holding the lock to store a value made after `since`. */
  const awaitOtherProcess = async (key: string, since: number): Promise<CacheEntry | undefined> => {
    const deadline = clock.now() + lockWaitMs;
    while (clock.now() < deadline) {
      await delay(clock, lockPollMs, closing.signal);
      const stored = await callStore('get', () => store.get(key));
      if (stored.ok && stored.value && stored.value.createdAt >= since) return stored.value;
    }
    return undefined;
  };

  const runFactory = async <T>(
    factory: CacheFactory<T>,
    stale: CacheEntry | undefined,
    hardTimeoutMs: number | undefined,
  ): Promise<T> => {
    const controller = new AbortController();
    const onClose = () => controller.abort(closing.signal.reason);
    closing.signal.addEventListener('abort', onClose, { once: true });
    let timer: unknown;
    try {
      const produced = Promise.resolve(
        factory({ signal: controller.signal, stale: stale ? decoded(stale) : undefined }),
      );
      if (hardTimeoutMs === undefined) return await produced;
      return await Promise.race([
        produced,
        new Promise<never>((_, reject) => {
          timer = clock.setTimeout(() => {
            const error = new TimeoutError(hardTimeoutMs);
            controller.abort(error);
            reject(error);
          }, hardTimeoutMs);
        }),
      ]);
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      closing.signal.removeEventListener('abort', onClose);
    }
  };

  const startFlight = <T>(
    key: string,
    factory: CacheFactory<T>,
    entryOptions: CacheEntryOptions,
    stale: CacheEntry | undefined,
  ): Flight => {
    counters.misses += 1;
    if (emitters.miss.hasListeners) emitters.miss.emit({ key });
    const hardTimeoutMs = entryOptions.hardTimeoutMs ?? options.hardTimeoutMs;
    const flight: Flight = {
      tags: entryOptions.tags ?? [],
      superseded: false,
      background: false,
      promise: Promise.resolve() as unknown as Promise<CacheEntry>,
    };
    flight.promise = (async () => {
      const startedAt = clock.now();
      let locked = false;
      if (lock) {
        locked = await lock.acquire(key, hardTimeoutMs ?? lockWaitMs).catch(() => false);
        if (!locked) {
          const theirs = await awaitOtherProcess(key, startedAt);
          if (theirs) {
            if (memory) await memory.set(key, forMemory(theirs));
            return theirs;
          }
        }
      }
      try {
        const value = await runFactory(factory, stale, hardTimeoutMs);
        const entry = makeEntry(value, entryOptions);
        const keep = value !== undefined || options.negativeTtlMs !== undefined;
        if (keep && !flight.superseded) await write(key, entry);
        return entry;
      } finally {
        if (locked) await lock?.release(key).catch(() => {});
      }
    })();
    flight.promise.then(
      () => {
        if (flights.get(key) === flight) flights.delete(key);
      },
      (error: unknown) => {
        if (flights.get(key) === flight) flights.delete(key);
        if (flight.background) {
          counters.refreshErrors += 1;
          if (emitters.refreshError.hasListeners) emitters.refreshError.emit({ key, error });
        }
      },
    );
    flights.set(key, flight);
    return flight;
  };

  const hit = <T>(key: string, found: Found): T => {
    counters.hits += 1;
    if (emitters.hit.hasListeners) emitters.hit.emit({ key, tier: found.tier });
    return decoded<T>(found.entry);
  };

  const answerStale = <T>(
    key: string,
    entry: CacheEntry,
    reason: CacheEvents['stale']['reason'],
    error?: unknown,
  ): T => {
    counters.staleAnswers += 1;
    if (emitters.stale.hasListeners) {
      emitters.stale.emit({
        key,
        reason,
        ageMs: clock.now() - entry.createdAt,
        ...(error === undefined ? {} : { error }),
      });
    }
    return decoded<T>(entry);
  };

  /** Waits for `flight` as one caller: its own signal, and a soft timeout when a stale value is at hand. */
  const waitFor = (
    flight: Flight,
    signal: AbortSignal | undefined,
    softTimeoutMs: number | undefined,
  ): Promise<CacheEntry | typeof softTimedOut> => {
    if (!signal && softTimeoutMs === undefined) return flight.promise;
    return new Promise((resolve, reject) => {
      let timer: unknown;
      const onAbort = () => finish(() => reject(signal?.reason));
      const finish = (settle: () => void) => {
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (softTimeoutMs !== undefined)
        timer = clock.setTimeout(() => finish(() => resolve(softTimedOut)), softTimeoutMs);
      flight.promise.then(
        (entry) => finish(() => resolve(entry)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  };

  const getOrSet = async <T>(
    key: string,
    factory: CacheFactory<T>,
    entryOptions: CacheEntryOptions = noEntryOptions,
  ): Promise<T> => {
    checkKey(key);
    if (entryOptions !== noEntryOptions) validateCacheEntryOptions(entryOptions);
    entryOptions.signal?.throwIfAborted();
    const found = await lookup(key);
    const now = clock.now();
    if (found && now < found.entry.freshUntil) return hit<T>(key, found);
    const stale = found && now < found.entry.staleUntil ? found.entry : undefined;
    if (stale && (entryOptions.staleWhileRevalidate ?? options.staleWhileRevalidate)) {
      const flight = flights.get(key) ?? startFlight(key, factory, entryOptions, stale);
      flight.background = true;
      return answerStale<T>(key, stale, 'revalidating');
    }
    const flight = flights.get(key) ?? startFlight(key, factory, entryOptions, stale);
    const softTimeoutMs = stale ? (entryOptions.softTimeoutMs ?? options.softTimeoutMs) : undefined;
    try {
      const entry = await waitFor(flight, entryOptions.signal, softTimeoutMs);
      if (entry !== softTimedOut) return decoded<T>(entry);
      // The factory goes on and stores its value; nobody waits for it now.
      flight.background = true;
      return answerStale<T>(key, stale as CacheEntry, 'soft-timeout');
    } catch (error) {
      if (entryOptions.signal?.aborted) throw error;
      if (stale && clock.now() < stale.staleUntil) return answerStale<T>(key, stale, 'error', error);
      throw error;
    }
  };

  const dropFromMemory = async (keys: readonly string[], tags: readonly string[]) => {
    if (!memory) return;
    if (keys.length) await memory.delete(keys);
    if (tags.length) await memory.deleteTags(tags);
  };

  const unsubscribe = bus?.subscribe((message: CacheInvalidation) => {
    if (message.origin === origin) return;
    forgetReads(message.keys, message.tags);
    void dropFromMemory(message.keys, message.tags).then(() => {
      if (emitters.invalidated.hasListeners) {
        emitters.invalidated.emit({ keys: message.keys, tags: message.tags, source: 'bus' });
      }
    });
  });

  const self: Cache = {
    getOrSet,
    async get<T>(key: string, getOptions: { signal?: AbortSignal; allowStale?: boolean } = {}) {
      checkKey(key);
      getOptions.signal?.throwIfAborted();
      const found = await lookup(key);
      if (!found) return undefined;
      const now = clock.now();
      if (now < found.entry.freshUntil) return hit<T>(key, found);
      if (getOptions.allowStale && now < found.entry.staleUntil) return decoded<T>(found.entry);
      return undefined;
    },
    async set(key, value, entryOptions = {}) {
      checkKey(key);
      validateCacheEntryOptions(entryOptions);
      entryOptions.signal?.throwIfAborted();
      const flight = flights.get(key);
      if (flight) flight.superseded = true;
      await write(key, makeEntry(value, entryOptions));
    },
    async invalidate(target, invalidateOptions = {}) {
      const keys = target.keys ?? [];
      const tags = target.tags ?? [];
      for (const key of keys) checkKey(key);
      invalidateOptions.signal?.throwIfAborted();
      for (const [key, flight] of flights) {
        if (keys.includes(key) || flight.tags.some((tag) => tags.includes(tag))) {
          flight.superseded = true;
          flights.delete(key);
        }
      }
      forgetReads(keys, tags);
      await dropFromMemory(keys, tags);
      const failures: CacheStoreError[] = [];
      if (keys.length) {
        const deleted = await callStore('delete', () => store.delete(keys));
        if (!deleted.ok) failures.push(deleted.error);
      }
      if (tags.length) {
        const deleted = await callStore('deleteTags', () => store.deleteTags(tags));
        if (!deleted.ok) failures.push(deleted.error);
      }
      await bus?.publish({ origin, keys, tags }, invalidateOptions);
      if (emitters.invalidated.hasListeners) emitters.invalidated.emit({ keys, tags, source: 'local' });
      if (failures.length) throw failures[0];
    },
    policyFor(key, entryOptions = {}) {
      checkKey(key);
      return {
        execute<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>, executeOptions?: ExecuteOptions) {
          return getOrSet<T>(key, ({ signal }) => fn({ signal, attempt: 1 }), {
            ...entryOptions,
            ...(executeOptions?.signal ? { signal: executeOptions.signal } : {}),
          });
        },
      };
    },
    on(eventName, listener) {
      const emitter = emitters[eventName] as unknown as EventEmitter<CacheEvents[typeof eventName]> | undefined;
      if (!emitter) throw unknownEventError('cache', eventName);
      return emitter.event(listener);
    },
    snapshot() {
      return {
        name,
        ...counters,
        inFlight: flights.size,
        ...(memory ? { memory: memory.snapshot() } : {}),
        health,
      };
    },
    async close() {
      unsubscribe?.();
      closing.abort(new ResilienceError('CACHE_CLOSED', `${name} is closed`));
    },
    async [Symbol.asyncDispose]() {
      await self.close();
    },
  };
  return self;
}
