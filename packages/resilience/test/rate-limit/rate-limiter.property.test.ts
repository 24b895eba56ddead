import {
  fixedWindow,
  memoryRateLimitStore,
  type RateLimitAlgorithm,
  rateLimiter,
  slidingWindow,
  tokenBucket,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A run: steps of (advance the clock by `advanceMs`, then consume `cost` from one of two keys). */
const steps = fc.array(
  fc.record({ advanceMs: fc.nat({ max: 400 }), cost: fc.integer({ min: 1, max: 3 }), key: fc.constantFrom('a', 'b') }),
  { minLength: 1, maxLength: 120 },
);

interface Admitted {
  atMs: number;
  cost: number;
  key: string;
}

async function run(algorithm: RateLimitAlgorithm, run: { advanceMs: number; cost: number; key: string }[]) {
  const clock = manualClock(1_700_000_000_000);
  const limiter = rateLimiter({ algorithm, store: memoryRateLimitStore({ clock }), clock });
  const admitted: Admitted[] = [];
  for (const step of run) {
    clock.advance(step.advanceMs);
    const decision = await limiter.consume(step.key, { cost: step.cost });
    expect(decision.remaining).toBeGreaterThanOrEqual(0);
    if (decision.allowed) admitted.push({ atMs: clock.now(), cost: step.cost, key: step.key });
    else expect(decision.retryAfterMs).toBeGreaterThan(0);
  }
  await limiter.close();
  return admitted;
}

const perAlignedWindow = (admitted: Admitted[], windowMs: number): number[] => {
  const sums = new Map<string, number>();
  for (const { atMs, cost, key } of admitted) {
    const window = `${key}:${Math.floor(atMs / windowMs)}`;
    sums.set(window, (sums.get(window) ?? 0) + cost);
  }
  return [...sums.values()];
};

describe('a limiter never admits more than its limit', () => {
  it('fixed window: at most limit per window, per key', async () => {
    await fc.assert(
      fc.asyncProperty(steps, fc.integer({ min: 3, max: 10 }), async (run_, limit) => {
        const admitted = await run(fixedWindow({ limit, windowMs: 1000 }), run_);
        for (const sum of perAlignedWindow(admitted, 1000)) expect(sum).toBeLessThanOrEqual(limit);
      }),
    );
  });

  it('sliding window: at most limit per window, and the weighted estimate never exceeds it', async () => {
    await fc.assert(
      fc.asyncProperty(steps, fc.integer({ min: 3, max: 10 }), async (run_, limit) => {
        const windowMs = 1000;
        const admitted = await run(slidingWindow({ limit, windowMs }), run_);
        for (const sum of perAlignedWindow(admitted, windowMs)) expect(sum).toBeLessThanOrEqual(limit);
        // At each admission, previous-window count × overlap + current-window count ≤ limit.
        for (const event of admitted) {
          const current = Math.floor(event.atMs / windowMs);
          const overlap = 1 - (event.atMs - current * windowMs) / windowMs;
          let inCurrent = 0;
          let inPrevious = 0;
          for (const other of admitted) {
            if (other.key !== event.key || other.atMs > event.atMs) continue;
            const window = Math.floor(other.atMs / windowMs);
            if (window === current) inCurrent += other.cost;
            else if (window === current - 1) inPrevious += other.cost;
          }
          expect(inPrevious * overlap + inCurrent).toBeLessThanOrEqual(limit + 1e-9);
        }
      }),
    );
  });

  it('token bucket / gcra: in any interval of d ms, at most capacity + d × rate units', async () => {
    await fc.assert(
      fc.asyncProperty(
        steps,
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 20 }),
        async (run_, capacity, rate) => {
          const admitted = await run(tokenBucket({ capacity: Math.max(3, capacity), refillPerSecond: rate }), run_);
          for (const key of ['a', 'b']) {
            const events = admitted.filter((event) => event.key === key);
            for (let first = 0; first < events.length; first++) {
              let sum = 0;
              for (let last = first; last < events.length; last++) {
                sum += (events[last] as Admitted).cost;
                const elapsedMs = (events[last] as Admitted).atMs - (events[first] as Admitted).atMs;
                expect(sum).toBeLessThanOrEqual(Math.max(3, capacity) + (elapsedMs * rate) / 1000 + 1e-9);
              }
            }
          }
        },
      ),
    );
  });
});
