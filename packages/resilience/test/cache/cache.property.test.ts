import { cache, memoryCacheBus, memoryCacheStore } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

type Step =
  | { kind: 'advance'; ms: number }
  | { kind: 'read'; process: number; sourceFails: boolean }
  | { kind: 'invalidate'; process: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  fc.record({ kind: fc.constant('read' as const), process: fc.integer({ min: 0, max: 2 }), sourceFails: fc.boolean() }),
  fc.record({ kind: fc.constant('invalidate' as const), process: fc.integer({ min: 0, max: 2 }) }),
);

describe('cache (property)', () => {
  it('never answers a value older than ttl + grace, nor one made before the last invalidation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.boolean(),
        async (steps, ttlMs, graceMs, staleWhileRevalidate) => {
          const clock = manualClock(0);
          const shared = memoryCacheStore({ clock });
          const bus = memoryCacheBus();
          // Three processes: one shared store, each its own memory tier, kept in step by the bus.
          const processes = [0, 1, 2].map(() =>
            cache({
              store: { ...shared, local: false },
              memory: memoryCacheStore({ clock }),
              bus,
              ttlMs,
              graceMs,
              staleWhileRevalidate,
              clock,
            }),
          );
          let lastInvalidatedAt = Number.NEGATIVE_INFINITY;
          for (const action of steps) {
            if (action.kind === 'advance') {
              clock.advance(action.ms);
            } else if (action.kind === 'invalidate') {
              await processes[action.process]?.invalidate({ keys: ['k'] });
              lastInvalidatedAt = clock.now();
            } else {
              const madeAt = clock.now();
              const answer = await processes[action.process]
                ?.getOrSet('k', async () => {
                  if (action.sourceFails) throw new Error('source down');
                  return madeAt;
                })
                .catch(() => undefined);
              if (answer !== undefined) {
                expect(clock.now() - answer).toBeLessThanOrEqual(ttlMs + graceMs);
                expect(answer).toBeGreaterThanOrEqual(lastInvalidatedAt);
              }
              await flush(); // background refreshes settle
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
