import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import { invalidKey } from '../storable-text/invalid-key.js';
import type { RateLimitAlgorithm } from './algorithms.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit-store.js';

/** Options of {@link memoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /**
   * Most keys kept. When a new key arrives at this bound, a key not used recently is forgotten
   * (its next call sees a full limit; "second chance" eviction, close to least-recently-used), so
   * memory stays bounded whatever callers send and busy keys keep their counts.
   * @defaultValue 100_000
   */
  readonly maxKeys?: number;
  /**
   * How often keys that are back to their full limit are dropped. The sweep timer runs only while
   * keys are stored, and never keeps the process alive.
   * @defaultValue 60_000
   */
  readonly sweepIntervalMs?: number;
  /** Source of time. @defaultValue systemClock */
  readonly clock?: Clock;
}

/** The memory store as an inspectable object (for tests and dashboards). */
export interface MemoryRateLimitStore extends RateLimitStore {
  /** Number of keys currently stored. */
  size(): number;
  /** Whether state is stored for `key` (idle keys stay until the next sweep). */
  has(key: string): boolean;
  /** Drops every key whose state is back to the full limit; returns how many were dropped. */
  sweep(): number;
}

/**
 * State of one key. Fields by algorithm — gcra: `a` = theoretical arrival time (µs);
 * fixed window: `a` = window start (µs), `b` = count; sliding window: `a` = current window start,
 * `b` = current count, `c` = previous window count. One shape for all keeps property access
 * monomorphic on the hot path.
 */
class Slot {
  a = 0;
  b = 0;
  c = 0;
  /** When the state becomes equivalent to no state (µs). */
  expiresAtUs = 0;
  /** Used since eviction last passed over it (the "second chance" bit). */
  used = false;
}

/** How many recently used keys eviction moves to the back before it evicts one anyway. */
const EVICTION_SCAN_LIMIT = 16;

const toMs = (microseconds: number): number => Math.ceil(microseconds / 1000);

/**
 * The in-process {@link RateLimitStore}: the reference implementation of the algorithms (the
 * Redis Lua scripts and PostgreSQL statements compute the same math). Bounded by `maxKeys`; idle
 * keys are swept. Decisions are synchronous under the hood, so it costs one small object and one
 * resolved promise per call.
 *
 * @example
 * ```ts
 * const limiter = rateLimiter({ algorithm: gcra({ rate: 5 }), store: memoryRateLimitStore({ maxKeys: 10_000 }) });
 * ```
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): MemoryRateLimitStore {
  const maxKeys = options.maxKeys ?? 100_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  const validator = new OptionsValidator('memoryRateLimitStore');
  if (!Number.isInteger(maxKeys) || maxKeys < 1) validator.report(`maxKeys must be a positive integer, got ${maxKeys}`);
  if (!(sweepIntervalMs > 0)) validator.report(`sweepIntervalMs must be positive, got ${sweepIntervalMs}`);
  validator.throwIfInvalid();
  const clock = options.clock ?? systemClock;
  const slots = new Map<string, Slot>();
  let sweepTimer: TimerHandle | undefined;
  let closed = false;

  const sweep = (): number => {
    const nowUs = Math.round(clock.now() * 1000);
    let dropped = 0;
    for (const [key, slot] of slots) {
      if (slot.expiresAtUs <= nowUs) {
        slots.delete(key);
        dropped++;
      }
    }
    return dropped;
  };
  const onSweepTimer = (): void => {
    sweepTimer = undefined;
    sweep();
    if (slots.size > 0 && !closed) sweepTimer = clock.setTimeout(onSweepTimer, sweepIntervalMs);
  };

  /**
   * Forgets one key rather than grow (an evicted key only loses its count): the oldest key not
   * used since eviction last looked at it. Used keys get a second chance at the back of the map.
   */
  const evictOne = (): void => {
    for (let scanned = 0; scanned < EVICTION_SCAN_LIMIT; scanned++) {
      const [key, slot] = slots.entries().next().value as [string, Slot];
      slots.delete(key);
      if (!slot.used) return;
      slot.used = false;
      slots.set(key, slot);
    }
    slots.delete(slots.keys().next().value as string);
  };

  const slotFor = (key: string): Slot => {
    let slot = slots.get(key);
    if (slot === undefined) {
      if (slots.size >= maxKeys) evictOne();
      slot = new Slot();
      slots.set(key, slot);
      if (sweepTimer === undefined && !closed) sweepTimer = clock.setTimeout(onSweepTimer, sweepIntervalMs);
    }
    return slot;
  };

  const decide = (key: string, algorithm: RateLimitAlgorithm, cost: number, dryRun: boolean): RateLimitDecision => {
    const nowUs = Math.round(clock.now() * 1000);
    const existing = slots.get(key);
    if (existing !== undefined) existing.used = true;
    if (algorithm.kind === 'gcra') {
      const interval = algorithm.intervalUs;
      const span = algorithm.limit * interval;
      let tat = existing === undefined || existing.a < nowUs ? nowUs : existing.a;
      const newTat = tat + cost * interval;
      const allowed = newTat - nowUs <= span;
      if (allowed && !dryRun) {
        tat = newTat;
        const slot = existing ?? slotFor(key);
        slot.a = tat;
        slot.expiresAtUs = tat;
      }
      return {
        allowed,
        remaining: Math.floor((span - (tat - nowUs)) / interval),
        retryAfterMs: allowed ? 0 : toMs(newTat - nowUs - span),
        resetMs: toMs(tat - nowUs),
      };
    }
    const window = algorithm.windowUs;
    const limit = algorithm.limit;
    let start = nowUs - (nowUs % window);
    if (algorithm.kind === 'fixed-window') {
      let count = 0;
      if (existing !== undefined && existing.a >= start) {
        start = existing.a;
        count = existing.b;
      }
      const allowed = count + cost <= limit;
      if (allowed && !dryRun) {
        count += cost;
        const slot = existing ?? slotFor(key);
        slot.a = start;
        slot.b = count;
        slot.expiresAtUs = start + window;
      }
      return {
        allowed,
        remaining: limit - count,
        retryAfterMs: allowed ? 0 : toMs(start + window - nowUs),
        resetMs: count > 0 ? toMs(start + window - nowUs) : 0,
      };
    }
    // Sliding window: the previous window's count weighs by the part of it still inside the
    // window ending now. Compared multiplied by the window length to stay in integers.
    let current = 0;
    let previous = 0;
    if (existing !== undefined) {
      if (existing.a >= start) {
        start = existing.a;
        current = existing.b;
        previous = existing.c;
      } else if (existing.a === start - window) {
        previous = existing.b;
      }
    }
    const elapsed = nowUs > start ? nowUs - start : 0;
    const weight = window - elapsed;
    const allowed = previous * weight + (current + cost) * window <= limit * window;
    let retryAfterUs = 0;
    if (allowed) {
      if (!dryRun) {
        current += cost;
        const slot = existing ?? slotFor(key);
        slot.a = start;
        slot.b = current;
        slot.c = previous;
        slot.expiresAtUs = start + 2 * window;
      }
    } else {
      const headroom = limit - current - cost;
      retryAfterUs =
        headroom >= 0
          ? Math.ceil(window - (headroom * window) / previous) - elapsed
          : window - elapsed + Math.max(0, Math.ceil(window - ((limit - cost) * window) / current));
    }
    const remaining = Math.floor((limit * window - previous * weight - current * window) / window);
    return {
      allowed,
      remaining: Math.max(remaining, 0),
      retryAfterMs: toMs(retryAfterUs),
      resetMs: current > 0 ? toMs(start + 2 * window - nowUs) : previous > 0 ? toMs(start + window - nowUs) : 0,
    };
  };

  return {
    inProcess: true,
    consume(key, algorithm, cost, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      return Promise.resolve(decide(key, algorithm, cost, false));
    },
    peek(key, algorithm, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      return Promise.resolve(decide(key, algorithm, 1, true));
    },
    reset(key, callOptions) {
      if (callOptions?.signal?.aborted) return Promise.reject(callOptions.signal.reason);
      const invalid = invalidKey('key', key);
      if (invalid) return Promise.reject(invalid);
      slots.delete(key);
      return Promise.resolve();
    },
    async close() {
      closed = true;
      if (sweepTimer !== undefined) clock.clearTimeout(sweepTimer);
      sweepTimer = undefined;
      slots.clear();
    },
    size: () => slots.size,
    has: (key) => slots.has(key),
    sweep,
  };
}
