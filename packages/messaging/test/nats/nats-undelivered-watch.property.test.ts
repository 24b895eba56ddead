import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConsumerProgress, UndeliveredTracker, watchUndelivered } from '../../src/nats/nats-undelivered-watch.js';

/** What a subscription goes through: messages received, and checks of its consumer after some time. */
type Step = { received: true } | { received: false; afterMs: number; progress: ConsumerProgress };

const steps = fc.array(
  fc.oneof(
    { weight: 1, arbitrary: fc.constant<Step>({ received: true }) },
    {
      weight: 6,
      arbitrary: fc.record({
        received: fc.constant(false as const),
        afterMs: fc.integer({ min: 0, max: 3_000 }),
        progress: fc.record({
          pending: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
          // Few sequences, so that runs of an unchanged one are common.
          deliveredSeq: fc.integer({ min: 0, max: 2 }),
        }),
      }),
    },
  ),
  { maxLength: 60 },
);

describe('UndeliveredTracker', () => {
  it('reports exactly when the consumer held messages and delivered none across the threshold, once per stall', () => {
    fc.assert(
      fc.property(steps, fc.integer({ min: 1, max: 5_000 }), (script, thresholdMs) => {
        const tracker = new UndeliveredTracker(thresholdMs);
        let now = 0;
        // The reference: the run of checks since the last reset (a receipt, nothing pending, a
        // delivery), when it began and whether it was reported.
        let run: { since: number; deliveredSeq: number; reported: boolean } | undefined;
        for (const step of script) {
          if (step.received) {
            tracker.received();
            run = undefined;
            expect(tracker.stalled).toBeUndefined();
            continue;
          }
          now += step.afterMs;
          const found = tracker.observe(step.progress, now);
          if (step.progress.pending === 0) run = undefined;
          else if (run === undefined || run.deliveredSeq !== step.progress.deliveredSeq)
            run = { since: now, deliveredSeq: step.progress.deliveredSeq, reported: false };
          const due = run !== undefined && !run.reported && now - run.since >= thresholdMs;
          expect(found !== undefined).toBe(due);
          if (found) {
            expect(found).toEqual({ pending: step.progress.pending, since: run?.since });
            if (run) run.reported = true;
          }
          // Stalled from the report until the run ends.
          expect(tracker.stalled !== undefined).toBe(run?.reported === true);
        }
      }),
    );
  });
});

describe('watchUndelivered', () => {
  it('checks the consumer only after empty pulls, at most once per half threshold', async () => {
    const clock = manualClock(0);
    let checks = 0;
    const watch = watchUndelivered({
      clock,
      thresholdMs: 1_000,
      progress: async () => {
        checks += 1;
        return { pending: 1, deliveredSeq: 7 };
      },
      onStalled: () => {},
    });
    watch.pullCameBackEmpty();
    expect(checks).toBe(0);
    clock.advance(500);
    watch.pullCameBackEmpty();
    // A second empty pull within the half threshold asks nothing.
    watch.pullCameBackEmpty();
    await new Promise((resolve) => setImmediate(resolve));
    expect(checks).toBe(1);
    clock.advance(499);
    watch.pullCameBackEmpty();
    expect(checks).toBe(1);
    clock.advance(1);
    watch.pullCameBackEmpty();
    expect(checks).toBe(2);
  });

  it('reports the stall found by the check after the threshold, and ignores a check answered across a receipt', async () => {
    const clock = manualClock(0);
    const stalls: unknown[] = [];
    let answer: (progress: ConsumerProgress) => void = () => {};
    const watch = watchUndelivered({
      clock,
      thresholdMs: 1_000,
      progress: () =>
        new Promise<ConsumerProgress>((resolve) => {
          answer = resolve;
        }),
      onStalled: (stall) => stalls.push(stall),
    });
    const checkAfter = async (ms: number, progress: ConsumerProgress, receivedMeanwhile = false) => {
      clock.advance(ms);
      watch.pullCameBackEmpty();
      if (receivedMeanwhile) watch.received();
      answer(progress);
      await new Promise((resolve) => setImmediate(resolve));
    };
    await checkAfter(500, { pending: 2, deliveredSeq: 3 });
    await checkAfter(500, { pending: 2, deliveredSeq: 3 });
    expect(stalls).toHaveLength(0);
    // Answered after a message arrived: stale, no finding.
    await checkAfter(500, { pending: 2, deliveredSeq: 3 }, true);
    expect(stalls).toHaveLength(0);
    await checkAfter(500, { pending: 2, deliveredSeq: 3 });
    await checkAfter(500, { pending: 2, deliveredSeq: 3 });
    await checkAfter(500, { pending: 4, deliveredSeq: 3 });
    expect(stalls).toEqual([{ pending: 4, since: 2_000 }]);
    expect(watch.stalled).toEqual({ pending: 4, since: 2_000 });
    watch.received();
    expect(watch.stalled).toBeUndefined();
  });
});
