import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeadlineEntry, DeadlineQueue } from '../../src/clock/deadline-queue.js';

type Operation = { kind: 'add'; entry: number } | { kind: 'remove'; entry: number } | { kind: 'advance'; ms: number };

describe('DeadlineQueue properties', () => {
  it('fires every queued entry once, exactly at its deadline, never a removed one, with at most one timer', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 50 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('add' as const), entry: fc.integer({ min: 0, max: 5 }) }),
            fc.record({ kind: fc.constant('remove' as const), entry: fc.integer({ min: 0, max: 5 }) }),
            fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
          ),
          { maxLength: 100 },
        ),
        (delayMs, operations: Operation[]) => {
          const clock = manualClock();
          const queue = new DeadlineQueue(clock, delayMs);
          const fired: { entry: number; at: number }[] = [];
          const entries: DeadlineEntry[] = Array.from({ length: 6 }, (_, entry) => ({
            dueAt: 0,
            queued: false,
            onDeadline: () => fired.push({ entry, at: clock.now() }),
          }));
          // The model: entry -> deadline, for entries that wait. Re-adding an entry replaces its deadline.
          const waiting = new Map<number, number>();
          const expected: { entry: number; at: number }[] = [];
          const fireDue = (until: number) => {
            const due = [...waiting.entries()].filter(([, at]) => at <= until).sort((a, b) => a[1] - b[1]);
            for (const [entry, at] of due) {
              expected.push({ entry, at });
              waiting.delete(entry);
            }
          };
          for (const operation of operations) {
            if (operation.kind === 'add') {
              queue.add(entries[operation.entry] as DeadlineEntry);
              waiting.set(operation.entry, clock.now() + delayMs);
            } else if (operation.kind === 'remove') {
              queue.remove(entries[operation.entry] as DeadlineEntry);
              waiting.delete(operation.entry);
            } else {
              fireDue(clock.now() + operation.ms);
              clock.advance(operation.ms);
            }
            expect(clock.pendingTimers()).toBeLessThanOrEqual(1);
          }
          fireDue(Number.POSITIVE_INFINITY);
          clock.advance(delayMs + 1);
          expect(fired.map(({ entry, at }) => `${entry}@${at}`).sort()).toEqual(
            expected.map(({ entry, at }) => `${entry}@${at}`).sort(),
          );
          clock.advance(delayMs + 1);
          expect(clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
