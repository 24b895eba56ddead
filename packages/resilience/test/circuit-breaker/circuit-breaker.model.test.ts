import {
  type BreakerStrategy,
  BrokenCircuitError,
  circuitBreaker,
  consecutive,
  failureRate,
  IsolatedCircuitError,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// A model-based test: random sequences of calls (success, failure, slow), time advances and
// operator actions run against the real breaker and against a small reference state machine
// written from the specification; after every step both must agree on the call's outcome, the
// state and the counts.

type Step =
  | { kind: 'call'; fails: boolean; durationMs: number }
  | { kind: 'advance'; ms: number }
  /** Moves time exactly to the next probe time, where off-by-one mistakes live. */
  | { kind: 'advance-to-probe' }
  | { kind: 'isolate' }
  | { kind: 'reset' };

type Outcome = 'ran-ok' | 'ran-failed' | 'broken' | 'isolated';

interface Config {
  strategy: 'consecutive' | 'failureRate';
  threshold: number; // consecutive: failures in a row; failureRate: rate
  minimumCalls: number;
  windowSize: number;
  /** When set, a time window of this many ms (10 buckets) instead of a count window. */
  windowMs?: number;
  slowCallMs?: number;
  slowCallRate?: number;
  halfOpenAfter: number;
}

/** The reference: the specification of the breaker, as plainly as it can be written. */
class ReferenceBreaker {
  state: 'closed' | 'open' | 'isolated' = 'closed';
  openUntil = 0;
  inARow = 0;
  window: { failed: boolean; slow: boolean; at: number }[] = [];
  constructor(
    readonly config: Config,
    public now: number,
  ) {}

  visibleState(): string {
    return this.state === 'open' && this.now >= this.openUntil ? 'half-open' : this.state;
  }

  call(fails: boolean, durationMs: number): { outcome: Outcome; retryAfterMs?: number } {
    if (this.state === 'isolated') return { outcome: 'isolated' };
    if (this.state === 'open' && this.now < this.openUntil) {
      return { outcome: 'broken', retryAfterMs: this.openUntil - this.now };
    }
    const probe = this.state === 'open';
    this.now += durationMs;
    const slow = this.config.slowCallMs !== undefined && durationMs >= this.config.slowCallMs;
    const outcome: Outcome = fails ? 'ran-failed' : 'ran-ok';
    if (probe) {
      if (fails || slow) this.open();
      else this.close();
      return { outcome };
    }
    if (this.record(fails, slow)) this.open();
    return { outcome };
  }

  private record(failed: boolean, slow: boolean): boolean {
    this.inARow = failed ? this.inARow + 1 : 0;
    if (this.config.strategy === 'consecutive') return this.inARow >= this.config.threshold;
    this.window.push({ failed, slow, at: this.now });
    if (this.config.windowMs === undefined && this.window.length > this.config.windowSize) this.window.shift();
    const window = this.current();
    const calls = window.length;
    if (calls < this.config.minimumCalls) return false;
    const failures = window.filter((entry) => entry.failed).length;
    const slowCalls = window.filter((entry) => entry.slow).length;
    return (
      failures / calls >= this.config.threshold ||
      (this.config.slowCallRate !== undefined && slowCalls / calls >= this.config.slowCallRate)
    );
  }

  private open(): void {
    this.state = 'open';
    this.openUntil = this.now + this.config.halfOpenAfter;
  }

  close(): void {
    this.state = 'closed';
    this.inARow = 0;
    this.window = [];
  }

  isolate(): void {
    this.state = 'isolated';
  }

  /**
   * The calls in the window now. A time window of `ms` is kept in 10 buckets of `ms / 10`: a call
   * is in it while its bucket is one of the last 10, the current one included.
   */
  current(): { failed: boolean; slow: boolean; at: number }[] {
    const windowMs = this.config.windowMs;
    if (windowMs === undefined) return this.window;
    const bucketMs = windowMs / 10;
    const currentBucket = Math.floor(this.now / bucketMs);
    return this.window.filter((entry) => Math.floor(entry.at / bucketMs) > currentBucket - 10);
  }

  failures(): number {
    return this.current().filter((entry) => entry.failed).length;
  }
}

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      fails: fc.boolean(),
      durationMs: fc.constantFrom(0, 0, 5, 50, 120),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'advance-to-probe' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'isolate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

const configArbitrary: fc.Arbitrary<Config> = fc.oneof(
  fc.record({
    strategy: fc.constant('consecutive' as const),
    threshold: fc.integer({ min: 1, max: 4 }),
    minimumCalls: fc.constant(1),
    windowSize: fc.constant(1),
    halfOpenAfter: fc.integer({ min: 1, max: 300 }),
  }),
  fc
    .record({
      strategy: fc.constant('failureRate' as const),
      threshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
      minimumCalls: fc.integer({ min: 1, max: 6 }),
      windowSize: fc.integer({ min: 1, max: 8 }),
      slowCallMs: fc.option(fc.constantFrom(50, 100), { nil: undefined }),
      slowCallRate: fc.constantFrom(0.5, 1),
      halfOpenAfter: fc.integer({ min: 1, max: 300 }),
    })
    .map((config) => (config.slowCallMs === undefined ? { ...config, slowCallRate: undefined } : config)),
  fc.record({
    strategy: fc.constant('failureRate' as const),
    threshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
    minimumCalls: fc.integer({ min: 1, max: 6 }),
    windowSize: fc.constant(0),
    windowMs: fc.integer({ min: 1, max: 60 }).map((tenths) => tenths * 10),
    halfOpenAfter: fc.integer({ min: 1, max: 300 }),
  }),
);

function strategyOf(config: Config): BreakerStrategy {
  if (config.strategy === 'consecutive') return consecutive(config.threshold);
  return failureRate({
    threshold: config.threshold,
    minimumCalls: config.minimumCalls,
    window:
      config.windowMs === undefined
        ? { kind: 'count', size: config.windowSize }
        : { kind: 'time', ms: config.windowMs },
    ...(config.slowCallMs === undefined ? {} : { slowCallMs: config.slowCallMs, slowCallRate: config.slowCallRate }),
  });
}

describe('circuitBreaker against its reference model', () => {
  it('agrees with the model on every outcome, state and count', async () => {
    await fc.assert(
      fc.asyncProperty(configArbitrary, fc.array(stepArbitrary, { maxLength: 80 }), async (config, steps) => {
        const clock = manualClock(1_000);
        const breaker = circuitBreaker({ strategy: strategyOf(config), halfOpenAfter: config.halfOpenAfter, clock });
        const model = new ReferenceBreaker(config, clock.now());
        for (const step of steps) {
          if (step.kind === 'advance' || step.kind === 'advance-to-probe') {
            const ms = step.kind === 'advance' ? step.ms : Math.max(0, model.openUntil - model.now);
            clock.advance(ms);
            model.now += ms;
          } else if (step.kind === 'isolate') {
            breaker.isolate();
            model.isolate();
          } else if (step.kind === 'reset') {
            breaker.reset();
            model.close();
          } else {
            const expected = model.call(step.fails, step.durationMs);
            const actual = await breaker
              .execute(async () => {
                clock.advance(step.durationMs);
                if (step.fails) throw new Error('failed');
              })
              .then(
                (): { outcome: Outcome; retryAfterMs?: number } => ({ outcome: 'ran-ok' }),
                (error: unknown): { outcome: Outcome; retryAfterMs?: number } =>
                  error instanceof IsolatedCircuitError
                    ? { outcome: 'isolated' }
                    : error instanceof BrokenCircuitError
                      ? { outcome: 'broken', retryAfterMs: error.retryAfterMs }
                      : { outcome: 'ran-failed' },
              );
            expect(actual, JSON.stringify(step)).toEqual(expected);
          }
          expect(clock.now()).toBe(model.now);
          expect(breaker.state, JSON.stringify(step)).toBe(model.visibleState());
          if (config.strategy === 'failureRate' && model.state === 'closed') {
            expect(breaker.snapshot().failures).toBe(model.failures());
            expect(breaker.snapshot().calls).toBe(model.current().length);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
