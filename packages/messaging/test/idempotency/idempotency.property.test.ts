import { IdempotencyConflictError, idempotency, memoryIdempotencyStore } from '@bulwark/messaging';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const lockTtlMs = 1_000;
const ttlMs = 5_000;
const keys = ['a', 'b'] as const;

type Action =
  | { kind: 'start'; key: number }
  | { kind: 'complete'; pick: number }
  | { kind: 'fail'; pick: number }
  | { kind: 'crash'; pick: number }
  | { kind: 'advance'; ms: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('start' as const), key: fc.nat(keys.length - 1) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('crash' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constantFrom(lockTtlMs - 1, lockTtlMs, ttlMs, ttlMs + 1)),
    }),
    weight: 3,
  },
);

/** One execution of the work, as the reference model sees it. */
interface Execution {
  readonly id: number;
  readonly key: string;
  readonly startedAt: number;
  state: 'running' | 'crashed' | 'failed' | 'completed' | 'lost';
  completedAt?: number;
  settle?: { resolve: (value: number) => void; reject: (error: unknown) => void };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('idempotency over the memory store (property)', () => {
  it('never runs the work while another execution of the same key is live, and never refuses a free key', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 60 }), async (actions) => {
        const clock = manualClock(1_000_000);
        const store = memoryIdempotencyStore({ clock });
        const idem = idempotency({ store, clock, ttlMs, lockTtlMs });
        const executions: Execution[] = [];
        const replays: { key: string; value: number }[] = [];
        const refusals: { key: string; at: number }[] = [];
        const violations: string[] = [];

        // Live: it holds an unexpired lease, or its stored outcome has not expired.
        const isLive = (execution: Execution, now: number) =>
          ((execution.state === 'running' || execution.state === 'crashed') && now < execution.startedAt + lockTtlMs) ||
          (execution.state === 'completed' && now < (execution.completedAt as number) + ttlMs);
        const liveOf = (key: string) =>
          executions.filter((execution) => execution.key === key && isLive(execution, clock.now()));

        for (const step of actions) {
          if (step.kind === 'start') {
            const key = keys[step.key] as string;
            const liveBefore = liveOf(key);
            const startedBefore = executions.length;
            const run = idem.run(key, 'fp', () => {
              // The property: when the work starts, no other execution of this key is live. Recorded,
              // not asserted here: a throw inside the work would only count as the work failing.
              const others = liveOf(key);
              if (others.length > 0) violations.push(`${key} ran at ${clock.now()} while ${others.length} live`);
              const execution: Execution = { id: executions.length, key, startedAt: clock.now(), state: 'running' };
              executions.push(execution);
              return new Promise<number>((resolve, reject) => {
                execution.settle = { resolve, reject };
              });
            });
            run.then(
              (value) => {
                if (executions.length === startedBefore) replays.push({ key, value });
              },
              (error: unknown) => {
                if (error instanceof IdempotencyConflictError) refusals.push({ key, at: clock.now() });
              },
            );
            await flush();
            const ran = executions.length > startedBefore;
            // Liveness: a key with no live execution is always acquired; a live one never is.
            expect(ran).toBe(liveBefore.length === 0);
          } else if (step.kind === 'advance') {
            await clock.advanceAsync(step.ms);
          } else {
            const running = executions.filter((execution) => execution.state === 'running');
            const execution = running[step.pick % Math.max(1, running.length)];
            if (!execution) continue;
            if (step.kind === 'crash') {
              // The process died: the work never settles and the lease is never completed.
              execution.state = 'crashed';
            } else if (step.kind === 'fail') {
              execution.state = 'failed';
              execution.settle?.reject(new Error('work failed'));
            } else {
              const leaseHeld = clock.now() < execution.startedAt + lockTtlMs;
              execution.state = leaseHeld ? 'completed' : 'lost';
              execution.completedAt = clock.now();
              execution.settle?.resolve(execution.id);
            }
            await flush();
          }
        }
        expect(violations).toEqual([]);
        // Every replay returned the outcome of a completed execution of its key.
        for (const replay of replays) {
          const source = executions[replay.value];
          expect(source?.key).toBe(replay.key);
          expect(source?.state).toBe('completed');
        }
      }),
      { numRuns: 300 },
    );
  });
});
