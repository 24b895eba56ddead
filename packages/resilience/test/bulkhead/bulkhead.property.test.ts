import { bulkhead } from '@bulwark/resilience';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('bulkhead properties', () => {
  it('never runs more than maxConcurrent nor queues more than maxQueue', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(
          fc.oneof(fc.constant('call' as const), fc.constant('finish' as const), fc.constant('abort' as const)),
          {
            maxLength: 60,
          },
        ),
        async (maxConcurrent, maxQueue, steps) => {
          const policy = bulkhead({ maxConcurrent, maxQueue });
          let running = 0;
          let maxRunning = 0;
          const finishers: (() => void)[] = [];
          const controllers: AbortController[] = [];
          const settled: Promise<unknown>[] = [];
          for (const step of steps) {
            if (step === 'call') {
              const controller = new AbortController();
              controllers.push(controller);
              settled.push(
                policy
                  .execute(
                    () =>
                      new Promise<void>((resolve) => {
                        running += 1;
                        maxRunning = Math.max(maxRunning, running);
                        finishers.push(() => {
                          running -= 1;
                          resolve();
                        });
                      }),
                    { signal: controller.signal },
                  )
                  .catch(() => {}),
              );
            } else if (step === 'finish') {
              finishers.shift()?.();
            } else {
              controllers.shift()?.abort();
            }
            await flush();
            const snapshot = policy.snapshot();
            expect(running).toBeLessThanOrEqual(maxConcurrent);
            expect(snapshot.running).toBeLessThanOrEqual(maxConcurrent);
            expect(snapshot.queued).toBeLessThanOrEqual(maxQueue);
            expect(snapshot.running).toBe(running);
          }
          while (finishers.length > 0) {
            finishers.shift()?.();
            await flush();
          }
          await Promise.all(settled);
          expect(policy.snapshot()).toMatchObject({ running: 0, queued: 0 });
          expect(maxRunning).toBeLessThanOrEqual(maxConcurrent);
        },
      ),
      { numRuns: 100 },
    );
  });
});
