import { attemptsOf, constant, retry, retryBudget } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('retry properties', () => {
  it('never exceeds maxAttempts, and reports the attempts it made', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 12 }),
        async (maxAttempts, failures) => {
          const policy = retry({ maxAttempts, backoff: constant({ ms: 0 }) });
          let attempts = 0;
          const outcome = await policy
            .execute(async ({ attempt }) => {
              attempts += 1;
              expect(attempt).toBe(attempts);
              if (attempts <= failures) throw new Error(`failure ${attempts}`);
              return 'ok';
            })
            .then(
              (value) => value,
              (error: unknown) => error,
            );
          expect(attempts).toBeLessThanOrEqual(maxAttempts);
          expect(attempts).toBe(Math.min(failures + 1, maxAttempts));
          if (failures >= maxAttempts) expect(attemptsOf(outcome)).toBe(maxAttempts);
          else expect(outcome).toBe('ok');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never spends more retries in a window than its budget allows', async () => {
    const windowMs = 1_000;
    const bucketMs = windowMs / 10;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0.1, 0.2, 0.5, 1),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.record({ failures: fc.integer({ min: 0, max: 5 }), advanceMs: fc.integer({ min: 0, max: 300 }) }), {
          maxLength: 60,
        }),
        async (ratio, minRetries, calls) => {
          const clock = manualClock();
          const budget = retryBudget({ ratio, minRetries, windowMs, clock });
          const policy = retry({ maxAttempts: 6, backoff: constant({ ms: 0 }), budget, clock });
          // An independent log of what happened, to recount the window at every retry.
          const log: { at: number; kind: 'call' | 'retry' }[] = [];
          policy.onRetry(() => {
            const now = clock.now();
            log.push({ at: now, kind: 'retry' });
            const inWindow = log.filter(({ at }) => Math.floor(at / bucketMs) > Math.floor(now / bucketMs) - 10);
            const windowCalls = inWindow.filter(({ kind }) => kind === 'call').length;
            const windowRetries = inWindow.filter(({ kind }) => kind === 'retry').length;
            expect(windowRetries).toBeLessThanOrEqual(Math.max(minRetries, Math.floor(ratio * windowCalls)));
          });
          for (const { failures, advanceMs } of calls) {
            clock.advance(advanceMs);
            log.push({ at: clock.now(), kind: 'call' });
            let attempts = 0;
            await policy
              .execute(async () => {
                attempts += 1;
                if (attempts <= failures) throw new Error('transient');
              })
              .catch(() => {});
            expect(attempts).toBeLessThanOrEqual(6);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
