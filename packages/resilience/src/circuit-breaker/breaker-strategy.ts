import type { Clock } from '../clock/clock.js';
import { SlidingCounters } from '../clock/sliding-counters.js';
import { OptionsValidator } from '../policy/options.js';

/** Counts a {@link BreakerStrategy} keeps while the circuit is closed. */
export interface BreakerStats {
  /** Calls recorded (in the window, for window strategies). */
  readonly calls: number;
  /** Failed calls among them. */
  readonly failures: number;
  /** Calls slower than `slowCallMs` among them (successful or not). */
  readonly slowCalls: number;
  /** Failures in a row since the last success. */
  readonly consecutiveFailures: number;
}

/** The per-breaker state of a {@link BreakerStrategy}. */
export interface BreakerRecorder {
  /** Records a call's outcome while closed; returns `true` when the circuit must open. */
  record(failed: boolean, slow: boolean): boolean;
  /** Forgets everything (the circuit closed again). */
  reset(): void;
  /** The counts kept now (for `snapshot()`). */
  stats(): BreakerStats;
}

/** When a closed circuit opens. Make one with {@link consecutive} or {@link failureRate}. */
export interface BreakerStrategy {
  /** Calls slower than this count as slow; the breaker measures call durations only when it is set. */
  readonly slowCallMs: number | undefined;
  /** Makes the mutable state of one breaker. */
  create(clock: Clock): BreakerRecorder;
}

/**
 * Opens after `threshold` failures in a row; a success resets the count.
 *
 * @example
 * ```ts
 * circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 10_000 });
 * ```
 */
export function consecutive(threshold: number): BreakerStrategy {
  const validator = new OptionsValidator('consecutive');
  validator.number('threshold', threshold, { min: 1, integer: true, optional: false });
  validator.throwIfInvalid();
  return {
    slowCallMs: undefined,
    create() {
      let calls = 0;
      let failures = 0;
      let inARow = 0;
      return {
        record(failed) {
          calls += 1;
          if (!failed) {
            inARow = 0;
            return false;
          }
          failures += 1;
          inARow += 1;
          return inARow >= threshold;
        },
        reset() {
          calls = 0;
          failures = 0;
          inARow = 0;
        },
        stats: () => ({ calls, failures, slowCalls: 0, consecutiveFailures: inARow }),
      };
    },
  };
}

/** The window a {@link failureRate} strategy computes its rates over. */
export type BreakerWindow =
  /** The last `size` calls. */
  | { readonly kind: 'count'; readonly size: number }
  /** The calls of the last `ms`, kept in 10 buckets of `ms / 10` (so the window slides by a tenth). */
  | { readonly kind: 'time'; readonly ms: number };

/** Options of {@link failureRate}. */
export interface FailureRateOptions {
  /** The failure rate in [0, 1] at or above which the circuit opens. */
  readonly threshold: number;
  /** No rate is judged before the window holds this many calls. @defaultValue `20` */
  readonly minimumCalls?: number;
  /** @defaultValue `{ kind: 'count', size: 100 }` */
  readonly window?: BreakerWindow;
  /** A call taking at least this long (ms) is slow, whether it succeeds or fails. */
  readonly slowCallMs?: number;
  /** The slow-call rate in [0, 1] at or above which the circuit opens; needs `slowCallMs`. */
  readonly slowCallRate?: number;
}

/** Defaults of {@link FailureRateOptions}. */
export const failureRateDefaults = { minimumCalls: 20, window: { kind: 'count', size: 100 } } as const;

const BUCKETS = 10;
/** The counters of a time window ({@link SlidingCounters}). */
const CALLS = 0;
const FAILURES = 1;
const SLOW_CALLS = 2;

/**
 * Opens when, over a window of calls, the failure rate reaches `threshold` or the slow-call rate
 * reaches `slowCallRate`, once at least `minimumCalls` calls were recorded.
 *
 * @example
 * ```ts
 * circuitBreaker({
 *   strategy: failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'time', ms: 60_000 },
 *                           slowCallMs: 2_000, slowCallRate: 0.8 }),
 *   halfOpenAfter: 30_000,
 * });
 * ```
 */
export function failureRate(options: FailureRateOptions): BreakerStrategy {
  const validator = new OptionsValidator('failureRate');
  validator.number('threshold', options?.threshold, { optional: false });
  validator.check(!(options?.threshold > 1), `threshold must be <= 1, got ${options?.threshold}`);
  validator.number('minimumCalls', options?.minimumCalls, { min: 1, integer: true });
  validator.number('slowCallMs', options?.slowCallMs);
  validator.number('slowCallRate', options?.slowCallRate);
  validator.check(
    options?.slowCallRate === undefined || options.slowCallRate <= 1,
    `slowCallRate must be <= 1, got ${options?.slowCallRate}`,
  );
  validator.check(
    (options?.slowCallRate === undefined) === (options?.slowCallMs === undefined),
    'slowCallMs and slowCallRate go together',
  );
  const window = options?.window ?? failureRateDefaults.window;
  if (window.kind === 'count') validator.number('window.size', window.size, { min: 1, integer: true, optional: false });
  else if (window.kind === 'time') validator.number('window.ms', window.ms, { min: BUCKETS, optional: false });
  else validator.check(false, `window.kind must be 'count' or 'time'`);
  validator.throwIfInvalid();

  const minimumCalls = options.minimumCalls ?? failureRateDefaults.minimumCalls;
  const slowCallRate = options.slowCallRate ?? Number.POSITIVE_INFINITY;
  const judge = (calls: number, failures: number, slowCalls: number) =>
    calls >= minimumCalls && (failures / calls >= options.threshold || slowCalls / calls >= slowCallRate);

  return {
    slowCallMs: options.slowCallMs,
    create(clock) {
      let inARow = 0;
      if (window.kind === 'count') {
        // A ring of outcomes (bit 0 failed, bit 1 slow) with running totals: O(1) per call.
        const ring = new Uint8Array(window.size);
        let next = 0;
        let calls = 0;
        let failures = 0;
        let slowCalls = 0;
        return {
          record(failed, slow) {
            inARow = failed ? inARow + 1 : 0;
            if (calls === window.size) {
              const evicted = ring[next] as number;
              failures -= evicted & 1;
              slowCalls -= evicted >> 1;
            } else {
              calls += 1;
            }
            ring[next] = (failed ? 1 : 0) | (slow ? 2 : 0);
            next = (next + 1) % window.size;
            if (failed) failures += 1;
            if (slow) slowCalls += 1;
            return judge(calls, failures, slowCalls);
          },
          reset() {
            ring.fill(0);
            next = 0;
            calls = 0;
            failures = 0;
            slowCalls = 0;
            inARow = 0;
          },
          stats: () => ({ calls, failures, slowCalls, consecutiveFailures: inARow }),
        };
      }
      const counters = new SlidingCounters(clock, window.ms, 3, BUCKETS);
      return {
        record(failed, slow) {
          inARow = failed ? inARow + 1 : 0;
          counters.advance();
          counters.add(CALLS);
          if (failed) counters.add(FAILURES);
          if (slow) counters.add(SLOW_CALLS);
          return judge(counters.total(CALLS), counters.total(FAILURES), counters.total(SLOW_CALLS));
        },
        reset() {
          counters.clear();
          inARow = 0;
        },
        stats() {
          counters.advance();
          return {
            calls: counters.total(CALLS),
            failures: counters.total(FAILURES),
            slowCalls: counters.total(SLOW_CALLS),
            consecutiveFailures: inARow,
          };
        },
      };
    },
  };
}
