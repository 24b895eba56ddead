import { constant, InvalidOptionsError, retry } from '@bulwark/resilience';

import { manualClock } from '@bulwark/resilience/testing';
import {
  defineSaga,
  memorySagaLog,
  SagaIdConflictError,
  SagaNotSerializableError,
  type SagaOrchestrator,
  type SagaOrchestratorEvents,
  sagaOrchestrator,
} from '@bulwark/saga';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { crashableLog } from '../support/crashable-log.js';

const open: SagaOrchestrator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((orchestrator) => orchestrator.close()));
});
const track = (orchestrator: SagaOrchestrator) => {
  open.push(orchestrator);
  return orchestrator;
};

interface Order {
  orderId: string;
  amount: number;
}

function recordingSaga(calls: string[], failAt?: string) {
  return defineSaga<Order>('place-order')
    .step('reserve', {
      execute: ({ input, idempotencyKey }) => {
        calls.push(`reserve:${idempotencyKey}`);
        if (failAt === 'reserve') throw new Error('no stock');
        return { reservation: `r-${input.orderId}` };
      },
      compensate: ({ result }) => {
        calls.push(`release:${result.reservation}`);
      },
    })
    .step('notify', {
      execute: () => {
        calls.push('notify');
      },
    })
    .step('charge', {
      execute: ({ results, input }) => {
        calls.push(`charge:${results.reserve.reservation}`);
        if (failAt === 'charge') throw Object.assign(new Error('card declined'), { code: 'DECLINED' });
        return { paymentId: `p-${input.amount}` };
      },
      compensate: ({ result, idempotencyKey }) => {
        calls.push(`refund:${result.paymentId}:${idempotencyKey}`);
      },
    })
    .step('ship', {
      execute: ({ results }) => {
        calls.push(`ship:${results.charge.paymentId}`);
        if (failAt === 'ship') throw new Error('no courier');
        return 'shipment-1';
      },
    });
}

describe('defineSaga', () => {
  it('types each step with the input and the results of the steps before it', () => {
    const saga = defineSaga<{ id: string }>('typed')
      .step('one', { execute: ({ input }) => input.id.length })
      .step('two', {
        execute: async ({ results }) => {
          expectTypeOf(results).toEqualTypeOf<{ readonly one: number }>();
          return { total: results.one * 2 };
        },
      })
      .step('three', {
        execute: ({ results }) => {
          expectTypeOf(results.two).toEqualTypeOf<{ total: number }>();
          return null;
        },
      });
    expect(saga.steps.map((step) => step.name)).toEqual(['one', 'two', 'three']);
  });

  it('start takes only the input type of the saga', () => {
    const saga = defineSaga<{ id: string }>('typed-start').step('a', { execute: ({ input }) => input.id });
    const typeOnly = (sagas: SagaOrchestrator) => {
      // @ts-expect-error the input must match the saga's Input
      void sagas.start(saga, { id: 1 }, { id: 'x' });
      void sagas.start(saga, { id: 'fine' }, { id: 'x' });
    };
    expect(typeof typeOnly).toBe('function');
  });

  it('rejects duplicate step names and bad options, listing every problem', () => {
    const saga = defineSaga<null>('dup').step('a', { execute: () => 1 });
    expect(() => saga.step('a' as never, { execute: () => 2 })).toThrow(InvalidOptionsError);
    try {
      defineSaga<null>('bad').step('x', { execute: 3 as never, timeoutMs: -1 });
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(2);
    }
  });
});

describe('sagaOrchestrator', () => {
  it('runs the steps in order and logs an intent before and an outcome after each', async () => {
    const clock = manualClock(1_000);
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], clock, recoverEveryMs: false }));
    const run = await sagas.start(saga, { orderId: 'o1', amount: 42 }, { id: 'o1' });
    expect(run).toMatchObject({ id: 'o1', created: true, status: 'running' });
    const outcome = await sagas.wait('o1');
    expect(outcome).toMatchObject({
      status: 'completed',
      results: { reserve: { reservation: 'r-o1' }, notify: null, charge: { paymentId: 'p-42' }, ship: 'shipment-1' },
    });
    expect(calls).toEqual(['reserve:o1:reserve', 'notify', 'charge:r-o1', 'ship:p-42']);
    const history = await sagas.history('o1');
    expect(history.map((entry) => [entry.kind, entry.step])).toEqual([
      ['saga-started', undefined],
      ['step-intent', 'reserve'],
      ['step-completed', 'reserve'],
      ['step-intent', 'notify'],
      ['step-completed', 'notify'],
      ['step-intent', 'charge'],
      ['step-completed', 'charge'],
      ['step-intent', 'ship'],
      ['step-completed', 'ship'],
      ['saga-completed', undefined],
    ]);
    expect(history.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(history.every((entry) => entry.at === 1_000)).toBe(true);
    expect((await sagas.get('o1'))?.status).toBe('completed');
  });

  it('compensates completed steps in reverse order, skipping steps without compensate', async () => {
    const calls: string[] = [];
    const saga = recordingSaga(calls, 'ship');
    const events: string[] = [];
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], recoverEveryMs: false }));
    for (const name of [
      'saga-started',
      'saga-step-completed',
      'saga-step-failed',
      'saga-step-compensated',
      'saga-compensated',
    ] as const)
      sagas.on(name, (event) => events.push(`${name}${'step' in event ? `:${event.step}` : ''}`));
    await sagas.start(saga, { orderId: 'o2', amount: 7 }, { id: 'o2' });
    const outcome = await sagas.wait('o2');
    expect(outcome.status).toBe('compensated');
    expect(outcome.failedStep).toBe('ship');
    expect(outcome.error).toEqual({ name: 'Error', message: 'no courier' });
    expect(calls).toEqual([
      'reserve:o2:reserve',
      'notify',
      'charge:r-o2',
      'ship:p-7',
      'refund:p-7:o2:charge',
      'release:r-o2',
    ]);
    expect(events).toEqual([
      'saga-started',
      'saga-step-completed:reserve',
      'saga-step-completed:notify',
      'saga-step-completed:charge',
      'saga-step-failed:ship',
      'saga-step-compensated:charge',
      'saga-step-compensated:reserve',
      'saga-compensated',
    ]);
    const kinds = (await sagas.history('o2')).slice(-6).map((entry) => `${entry.kind}:${entry.step ?? ''}`);
    expect(kinds).toEqual([
      'step-failed:ship',
      'compensation-intent:charge',
      'step-compensated:charge',
      'compensation-intent:reserve',
      'step-compensated:reserve',
      'saga-compensated:',
    ]);
  });

  it('ends compensated at once when the first step fails', async () => {
    const calls: string[] = [];
    const saga = recordingSaga(calls, 'reserve');
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], recoverEveryMs: false }));
    await sagas.start(saga, { orderId: 'o3', amount: 1 }, { id: 'o3' });
    expect((await sagas.wait('o3')).status).toBe('compensated');
    expect(calls).toEqual(['reserve:o3:reserve']);
  });

  it('retries a compensation with exponential backoff, then leaves the saga failed with an event', async () => {
    const clock = manualClock();
    let attempts = 0;
    const times: number[] = [];
    const saga = defineSaga<null>('stubborn')
      .step('a', {
        execute: () => 1,
        compensate: () => {
          attempts += 1;
          times.push(clock.now());
          throw new Error(`still broken ${attempts}`);
        },
      })
      .step('b', {
        execute: () => {
          throw new Error('boom');
        },
      });
    const sagas = track(
      sagaOrchestrator({
        log: memorySagaLog(),
        sagas: [saga],
        clock,
        recoverEveryMs: false,
        compensationRetry: { maxAttempts: 4, initialDelayMs: 100, factor: 2 },
      }),
    );
    const failed: SagaOrchestratorEvents['saga-failed'][] = [];
    sagas.on('saga-failed', (event) => failed.push(event));
    await sagas.start(saga, null, { id: 's1' });
    await clock.advanceAsync(10_000);
    const outcome = await sagas.wait('s1');
    expect(outcome.status).toBe('failed');
    expect(times).toEqual([0, 100, 300, 700]);
    expect(failed).toEqual([
      { sagaId: 's1', saga: 'stubborn', at: 700, step: 'a', error: { name: 'Error', message: 'still broken 4' } },
    ]);
    const history = await sagas.history('s1');
    expect(history.filter((entry) => entry.kind === 'compensation-attempt-failed').map((entry) => entry.at)).toEqual([
      0, 100, 300, 700,
    ]);
    expect(history.at(-1)).toMatchObject({ kind: 'saga-failed', step: 'a' });
    expect(await sagas.list({ status: 'failed' })).toHaveLength(1);
    expect((await sagas.counts()).failed).toBe(1);
  });

  it('a compensation that fails a few times then succeeds ends compensated', async () => {
    const clock = manualClock();
    let attempts = 0;
    const saga = defineSaga<null>('flaky-undo')
      .step('a', {
        execute: () => 1,
        compensate: () => {
          attempts += 1;
          if (attempts < 3) throw new Error('not yet');
        },
      })
      .step('b', {
        execute: () => {
          throw new Error('boom');
        },
      });
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], clock, recoverEveryMs: false }));
    await sagas.start(saga, null, { id: 'f1' });
    await clock.advanceAsync(1_000);
    expect((await sagas.wait('f1')).status).toBe('compensated');
    expect(attempts).toBe(3);
  });

  it('start is idempotent by id: a second start returns the same run and runs nothing again', async () => {
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    const log = memorySagaLog();
    const sagas = track(sagaOrchestrator({ log, sagas: [saga], recoverEveryMs: false }));
    const [first, second] = await Promise.all([
      sagas.start(saga, { orderId: 'o4', amount: 1 }, { id: 'o4' }),
      sagas.start(saga, { orderId: 'o4', amount: 1 }, { id: 'o4' }),
    ]);
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ id: 'o4', created: false });
    await sagas.idle();
    const third = await sagas.start(saga, { orderId: 'o4', amount: 1 }, { id: 'o4' });
    expect(third).toEqual({ id: 'o4', saga: 'place-order', created: false, status: 'completed' });
    // Another orchestrator on the same log sees the same run too.
    const other = track(sagaOrchestrator({ log, sagas: [saga], recoverEveryMs: false }));
    expect((await other.start(saga, { orderId: 'o4', amount: 1 }, { id: 'o4' })).created).toBe(false);
    expect(calls.filter((call) => call.startsWith('reserve'))).toHaveLength(1);
    const otherSaga = defineSaga<null>('other').step('x', { execute: () => 1 });
    const mixed = track(sagaOrchestrator({ log, sagas: [saga, otherSaga], recoverEveryMs: false }));
    await expect(mixed.start(otherSaga, null, { id: 'o4' })).rejects.toBeInstanceOf(SagaIdConflictError);
  });

  it('refuses input and results that are not plain JSON, with a typed error', async () => {
    const saga = defineSaga<{ when: Date }>('dates').step('a', { execute: () => new Map() });
    const plain = defineSaga<null>('bad-result').step('a', { execute: () => ({ at: new Date(0) }) });
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga, plain], recoverEveryMs: false }));
    const error = await sagas.start(saga, { when: new Date() }, { id: 'd1' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SagaNotSerializableError);
    expect(error).toMatchObject({ code: 'SAGA_NOT_SERIALIZABLE', path: '$.when' });
    await sagas.start(plain, null, { id: 'd2' });
    const outcome = await sagas.wait('d2');
    expect(outcome).toMatchObject({
      status: 'compensated',
      failedStep: 'a',
      error: { name: 'SagaNotSerializableError', code: 'SAGA_NOT_SERIALIZABLE' },
    });
  });

  it('wraps execute in the step retry policy and records each failed attempt in the history', async () => {
    const clock = manualClock();
    let attempts = 0;
    // Any Policy works: here a minimal retry of three attempts.
    const threeTimes = {
      async execute<T>(fn: (context: { signal: AbortSignal; attempt: number }) => T | PromiseLike<T>): Promise<T> {
        for (let attempt = 1; ; attempt++) {
          try {
            return await fn({ signal: new AbortController().signal, attempt });
          } catch (error) {
            if (attempt === 3) throw error;
          }
        }
      },
    };
    const saga = defineSaga<null>('retrying').step('flaky', {
      retry: threeTimes,
      execute: ({ attempt }) => {
        attempts += 1;
        if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
        return attempt;
      },
    });
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], clock, recoverEveryMs: false }));
    await sagas.start(saga, null, { id: 'r1' });
    expect(await sagas.wait('r1')).toMatchObject({ status: 'completed', results: { flaky: 3 } });
    const failures = (await sagas.history('r1')).filter((entry) => entry.kind === 'step-attempt-failed');
    expect(failures.map((entry) => [entry.attempt, (entry.data as { message: string }).message])).toEqual([
      [1, 'attempt 1 failed'],
      [2, 'attempt 2 failed'],
    ]);
    expect(attempts).toBe(3);
  });

  it('takes a retry policy of @bulwark/resilience: attempts spaced by its backoff, then the step fails for good', async () => {
    const clock = manualClock();
    const times: number[] = [];
    let undone = 0;
    const saga = defineSaga<null>('resilient')
      .step('first', { execute: () => 'ok', compensate: () => void undone++ })
      .step('charge', {
        retry: retry({ maxAttempts: 3, backoff: constant({ ms: 200 }), clock }),
        execute: ({ attempt }) => {
          times.push(clock.now());
          throw new Error(`down ${attempt}`);
        },
      });
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], clock, recoverEveryMs: false }));
    await sagas.start(saga, null, { id: 'rp1' });
    await clock.advanceAsync(1_000);
    expect(await sagas.wait('rp1')).toMatchObject({ status: 'compensated', error: { message: 'down 3' } });
    expect(times).toEqual([0, 200, 400]);
    expect(undone).toBe(1);
    const attempts = (await sagas.history('rp1')).filter((entry) => entry.kind === 'step-attempt-failed');
    expect(attempts.map((entry) => [entry.attempt, entry.at])).toEqual([
      [1, 0],
      [2, 200],
      [3, 400],
    ]);
  });

  it('fails a step that outlives timeoutMs and compensates', async () => {
    const clock = manualClock();
    let released = 0;
    let aborted = false;
    const saga = defineSaga<null>('slow')
      .step('a', { execute: () => 1, compensate: () => void released++ })
      .step('b', {
        timeoutMs: 500,
        execute: ({ signal }) =>
          new Promise<number>(() => {
            signal.addEventListener('abort', () => {
              aborted = true;
            });
          }),
      });
    const sagas = track(sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], clock, recoverEveryMs: false }));
    await sagas.start(saga, null, { id: 't1' });
    await clock.advanceAsync(499);
    expect((await sagas.get('t1'))?.status).toBe('running');
    await clock.advanceAsync(1);
    const outcome = await sagas.wait('t1');
    expect(outcome).toMatchObject({ status: 'compensated', error: { code: 'SAGA_STEP_TIMEOUT' } });
    expect(aborted).toBe(true);
    expect(released).toBe(1);
  });

  it('a dead orchestrator’s run is taken over when its lease runs out, re-running the step with the same key', async () => {
    const clock = manualClock();
    const keys: string[] = [];
    let hang = true;
    const saga = defineSaga<null>('takeover')
      .step('a', { execute: ({ idempotencyKey }) => void keys.push(idempotencyKey) })
      .step('b', {
        execute: ({ idempotencyKey }) => {
          keys.push(idempotencyKey);
          // The first orchestrator dies in the middle of this step.
          return hang ? new Promise<void>(() => {}) : undefined;
        },
      });
    const log = memorySagaLog();
    const first = crashableLog(log);
    const dying = sagaOrchestrator({
      log: first,
      sagas: [saga],
      clock,
      owner: 'A',
      leaseMs: 1_000,
      heartbeatMs: 300,
      recoverEveryMs: false,
    });
    await dying.start(saga, null, { id: 'k1' });
    await clock.advanceAsync(0);
    expect(keys).toEqual(['k1:a', 'k1:b']);
    // While A lives, its heartbeat keeps the lease: B takes nothing.
    const survivor = track(
      sagaOrchestrator({
        log,
        sagas: [saga],
        clock,
        owner: 'B',
        leaseMs: 1_000,
        heartbeatMs: 300,
        recoverEveryMs: 250,
      }),
    );
    await clock.advanceAsync(2_000);
    expect((await log.get('k1'))?.owner).toBe('A');
    first.crash();
    hang = false;
    const resumed: string[] = [];
    survivor.on('saga-resumed', (event) => resumed.push(event.sagaId));
    await clock.advanceAsync(1_500);
    await survivor.idle();
    expect(resumed).toEqual(['k1']);
    expect(keys).toEqual(['k1:a', 'k1:b', 'k1:b']);
    expect((await log.get('k1'))?.status).toBe('completed');
    const history = await log.history('k1');
    expect(history.filter((entry) => entry.kind === 'step-intent').map((entry) => entry.step)).toEqual(['a', 'b']);
  });

  it('an orchestrator that lost its lease stops driving the run and reports it', async () => {
    const clock = manualClock();
    let release!: () => void;
    const saga = defineSaga<null>('lost')
      .step('a', { execute: () => new Promise<void>((resolve) => (release = resolve)) })
      .step('b', { execute: () => 2 });
    const log = memorySagaLog();
    const slow = track(
      sagaOrchestrator({
        log,
        sagas: [saga],
        clock,
        owner: 'A',
        leaseMs: 1_000,
        heartbeatMs: 500,
        recoverEveryMs: false,
      }),
    );
    const errors: unknown[] = [];
    slow.on('saga-error', (event) => errors.push(event.error));
    await slow.start(saga, null, { id: 'l1' });
    // Another orchestrator steals the lease (as if A's heartbeats had stalled past leaseMs).
    await clock.advanceAsync(1_001 - 1);
    expect(await log.claim('l1', 'B', { now: 10_000, leaseUntil: 20_000 })).toBeDefined();
    await clock.advanceAsync(500);
    release();
    await slow.idle();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'SAGA_LEASE_LOST' });
    expect((await log.get('l1'))?.owner).toBe('B');
  });

  it('close() releases the leases of runs in flight so another orchestrator resumes them at once', async () => {
    const clock = manualClock();
    const saga = defineSaga<null>('closing').step('a', {
      execute: ({ signal, attempt }) =>
        attempt === 1 && clock.now() === 0
          ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
          : 'done',
    });
    const log = memorySagaLog();
    const first = sagaOrchestrator({ log, sagas: [saga], clock, recoverEveryMs: false });
    await first.start(saga, null, { id: 'c1' });
    await first.close();
    expect((await log.get('c1'))?.owner).toBeNull();
    clock.advance(1);
    const second = track(sagaOrchestrator({ log, sagas: [saga], clock, recoverEveryMs: false }));
    expect(await second.recover()).toBe(1);
    expect(await second.wait('c1')).toMatchObject({ status: 'completed', results: { a: 'done' } });
    await expect(first.start(saga, null, { id: 'c2' })).rejects.toMatchObject({ code: 'SAGA_ORCHESTRATOR_CLOSED' });
  });

  it('recover() works a backlog off at a bounded pace (maxRecoveredRuns)', async () => {
    const clock = manualClock();
    const release: (() => void)[] = [];
    const saga = defineSaga<null>('backlog').step('a', {
      execute: () => new Promise<void>((resolve) => release.push(resolve)),
    });
    const log = memorySagaLog();
    for (let index = 0; index < 5; index++)
      await log.create({ id: `b${index}`, name: 'backlog', input: null, owner: 'dead', leaseUntil: 0, at: index }, [
        { at: index, kind: 'step-intent', step: 'a' },
      ]);
    const sagas = track(
      sagaOrchestrator({ log, sagas: [saga], clock, recoverEveryMs: false, recoverBatch: 10, maxRecoveredRuns: 2 }),
    );
    expect(await sagas.recover()).toBe(2);
    expect(await sagas.recover()).toBe(0);
    await clock.advanceAsync(0);
    for (const resolve of release.splice(0)) resolve();
    await sagas.idle();
    expect(await sagas.recover()).toBe(2);
    await clock.advanceAsync(0);
    for (const resolve of release.splice(0)) resolve();
    await sagas.idle();
    expect(await sagas.recover()).toBe(1);
    await clock.advanceAsync(0);
    for (const resolve of release.splice(0)) resolve();
    await sagas.idle();
    expect((await sagas.counts()).completed).toBe(5);
  });

  it('validates its options, reporting every problem at once', () => {
    const request = defineSaga<null>('needs-transport').request('ask', {
      send: () => ({ topic: 't', type: 'x', payload: null }),
      replyTopic: 'replies',
      timeoutMs: 100,
    });
    try {
      sagaOrchestrator({ log: memorySagaLog(), sagas: [request], leaseMs: 100, heartbeatMs: 200 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).problems).toHaveLength(2);
    }
  });
});
