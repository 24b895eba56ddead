import { manualClock } from '@bulwark/resilience/testing';
import { defineSaga, memorySagaLog, type SagaOrchestrator, type SagaStatus, sagaOrchestrator } from '@bulwark/saga';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CrashableLog, crashableLog } from '../support/crashable-log.js';

const steps = ['reserve', 'charge', 'ship'] as const;

interface SagaPlan {
  /** The step that fails for good, if any. */
  failAt: number | undefined;
  /** A step whose compensation fails for good, if any. */
  stuckCompensation: number | undefined;
  /** Failures of each compensation before it succeeds (counted across all processes). */
  flakyCompensations: number;
}

interface World {
  /** Effects applied, keyed by idempotency key: a repeat with the same key is a no-op. */
  applied: Set<string>;
  compensated: Set<string>;
  /** Every key execute/compensate was called with. */
  keysSeen: Set<string>;
  compensationFailures: Map<string, number>;
  /** How many times execute ran per key (more than once: re-run after a crash). */
  executions: Map<string, number>;
}

const never = new Promise<never>(() => {});

/** The saga as one process sees it: once its log died, its steps hang like the rest of it. */
function sagaFor(process: CrashableLog, plans: Map<string, SagaPlan>, world: World) {
  const step = (index: number) => ({
    execute: async ({ sagaId, idempotencyKey }: { sagaId: string; idempotencyKey: string }) => {
      if (process.crashed) return never;
      world.keysSeen.add(idempotencyKey);
      world.executions.set(idempotencyKey, (world.executions.get(idempotencyKey) ?? 0) + 1);
      if (plans.get(sagaId)?.failAt === index) throw new Error(`${steps[index]} failed`);
      world.applied.add(idempotencyKey);
      return { key: idempotencyKey };
    },
    compensate: async ({ sagaId, idempotencyKey }: { sagaId: string; idempotencyKey: string }) => {
      if (process.crashed) return never;
      world.keysSeen.add(`undo:${idempotencyKey}`);
      const plan = plans.get(sagaId) as SagaPlan;
      if (plan.stuckCompensation === index) throw new Error('cannot undo');
      const failures = world.compensationFailures.get(idempotencyKey) ?? 0;
      if (failures < plan.flakyCompensations) {
        world.compensationFailures.set(idempotencyKey, failures + 1);
        throw new Error('try again');
      }
      world.compensated.add(idempotencyKey);
    },
  });
  return defineSaga<{ n: number }>('property').step('reserve', step(0)).step('charge', step(1)).step('ship', step(2));
}

const planArbitrary: fc.Arbitrary<SagaPlan> = fc.record({
  failAt: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  stuckCompensation: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 4 }),
  flakyCompensations: fc.integer({ min: 0, max: 2 }), // below maxAttempts (3)
});

const crashArbitrary = fc.record({ afterCalls: fc.integer({ min: 1, max: 40 }), applied: fc.boolean() });

describe('orchestrator under random failures and crashes (memory log)', () => {
  it('every saga ends completed or compensated (failed only where a compensation fails for good), no effect applied twice', async () => {
    let crashed = 0;
    let rerunSteps = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(planArbitrary, { minLength: 1, maxLength: 6 }),
        fc.array(crashArbitrary, { maxLength: 3 }),
        async (planList, crashes) => {
          const clock = manualClock();
          const log = memorySagaLog();
          const plans = new Map(planList.map((plan, index) => [`s${index}`, plan]));
          const world: World = {
            applied: new Set(),
            compensated: new Set(),
            keysSeen: new Set(),
            compensationFailures: new Map(),
            executions: new Map(),
          };
          const orchestrators: SagaOrchestrator[] = [];
          for (let incarnation = 0; incarnation <= crashes.length; incarnation++) {
            const process = crashableLog(log);
            const crash = crashes[incarnation];
            if (crash) process.crashAfter(crash.afterCalls, crash.applied);
            const saga = sagaFor(process, plans, world);
            const orchestrator = sagaOrchestrator({
              log: process,
              sagas: [saga],
              clock,
              owner: `p${incarnation}`,
              leaseMs: 1_000,
              heartbeatMs: 300,
              recoverEveryMs: 400,
              compensationRetry: { maxAttempts: 3, initialDelayMs: 10 },
            });
            orchestrators.push(orchestrator);
            // Not awaited: this process may itself die during recovery (its log calls then hang).
            orchestrator.recover().catch(() => {});
            // Clients retry their requests against the new process: start is idempotent.
            for (const [index, id] of [...plans.keys()].entries())
              orchestrator.start(saga, { n: index }, { id }).catch(() => {});
            for (let tick = 0; tick < 300 && !process.crashed; tick++) {
              await clock.advanceAsync(50);
              const statuses = await Promise.all([...plans.keys()].map(async (id) => (await log.get(id))?.status));
              if (statuses.every((status) => status && status !== 'running' && status !== 'compensating')) break;
            }
            if (process.crashed) crashed += 1;
          }
          for (const [id, plan] of plans) {
            const record = await log.get(id);
            const expected: SagaStatus =
              plan.failAt === undefined
                ? 'completed'
                : plan.stuckCompensation !== undefined && plan.stuckCompensation < plan.failAt
                  ? 'failed'
                  : 'compensated';
            expect(record?.status, `saga ${id} ${JSON.stringify(plan)}`).toBe(expected);
            const completedSteps = plan.failAt ?? steps.length;
            const expectedApplied = steps.slice(0, completedSteps).map((step) => `${id}:${step}`);
            const applied = [...world.applied].filter((key) => key.startsWith(`${id}:`));
            expect(applied.sort()).toEqual(expectedApplied.sort());
            const undone = [...world.compensated].filter((key) => key.startsWith(`${id}:`)).sort();
            if (expected === 'completed') expect(undone).toEqual([]);
            if (expected === 'compensated') expect(undone).toEqual(expectedApplied.sort());
            if (expected === 'failed') {
              const above = steps
                .slice((plan.stuckCompensation as number) + 1, completedSteps)
                .map((step) => `${id}:${step}`);
              expect(undone).toEqual(above.sort());
            }
          }
          // Only the stable keys `<sagaId>:<step>` were ever used: a re-run after a crash reused them.
          const allowed = new Set(
            [...plans.keys()].flatMap((id) => steps.flatMap((step) => [`${id}:${step}`, `undo:${id}:${step}`])),
          );
          for (const key of world.keysSeen) expect(allowed.has(key), key).toBe(true);
          rerunSteps += [...world.executions.values()].filter((count) => count > 1).length;
          for (const orchestrator of orchestrators) void orchestrator.close().catch(() => {});
        },
      ),
      { numRuns: 150 },
    );
    // The schedules did crash processes mid-run (the property is not vacuous).
    expect(crashed).toBeGreaterThan(20);
    expect(rerunSteps).toBeGreaterThan(0);
  }, 60_000);
});
