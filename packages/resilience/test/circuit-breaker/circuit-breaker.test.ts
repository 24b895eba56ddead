import {
  BrokenCircuitError,
  type CircuitBreakerOptions,
  circuitBreaker,
  consecutive,
  ExecutionRejectedError,
  exponential,
  failureRate,
  InvalidOptionsError,
  IsolatedCircuitError,
  ResilienceError,
  type StateChangeEvent,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

const ok = async () => 'ok';
const fail = async () => {
  throw new Error('down');
};
const settle = (promise: Promise<unknown>) =>
  promise.then(
    () => 'success',
    (error: unknown) => error,
  );

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = manualClock(1_000);
  const breaker = circuitBreaker({ strategy: consecutive(3), halfOpenAfter: 1_000, clock, ...options });
  const changes: StateChangeEvent[] = [];
  breaker.onStateChange((event) => changes.push(event));
  return { clock, breaker, changes };
}

describe('circuitBreaker', () => {
  it('consecutive(n): opens after n failures in a row, a success resets the count', async () => {
    const { breaker } = setup();
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    await breaker.execute(ok);
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed');
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
  });

  it('fails fast with BrokenCircuitError carrying retryAfterMs while open', async () => {
    const { breaker, clock } = setup();
    for (let index = 0; index < 3; index++) await settle(breaker.execute(fail));
    clock.advance(400);
    let ran = false;
    const error = await settle(breaker.execute(async () => (ran = true)));
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect(error).toBeInstanceOf(ExecutionRejectedError);
    expect(error).toBeInstanceOf(ResilienceError);
    expect(error).toMatchObject({ code: 'BROKEN_CIRCUIT', retryAfterMs: 600, circuit: 'circuit' });
  });

  it('half-opens after halfOpenAfter: a successful probe closes it, a failed one reopens it', async () => {
    const { breaker, clock, changes } = setup();
    for (let index = 0; index < 3; index++) await settle(breaker.execute(fail));
    clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
    expect(breaker.snapshot().nextProbeAt).toBe(3_000);
    clock.advance(1_000);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(changes.map(({ from, to, reason }) => `${from}>${to}:${reason}`)).toEqual([
      'closed>open:failures',
      'open>half-open:half-open',
      'half-open>open:probe-failed',
      'open>half-open:half-open',
      'half-open>closed:probe-succeeded',
    ]);
  });

  it('admits halfOpenMaxCalls probes at once; the others fail fast', async () => {
    const { breaker, clock } = setup({ halfOpenMaxCalls: 2 });
    for (let index = 0; index < 3; index++) await settle(breaker.execute(fail));
    clock.advance(1_000);
    const release: (() => void)[] = [];
    const probe = () => breaker.execute(() => new Promise<string>((resolve) => release.push(() => resolve('probed'))));
    const first = probe();
    const second = probe();
    const third = await settle(probe());
    expect(third).toBeInstanceOf(BrokenCircuitError);
    expect((third as BrokenCircuitError).retryAfterMs).toBe(0);
    expect(release).toHaveLength(2);
    expect(breaker.snapshot().probesInFlight).toBe(2);
    release[0]?.();
    await expect(first).resolves.toBe('probed');
    expect(breaker.state).toBe('closed');
    release[1]?.();
    await expect(second).resolves.toBe('probed');
    expect(breaker.state).toBe('closed');
  });

  it('halfOpenAfter as a backoff: each reopening in a row waits longer; closing resets it', async () => {
    const { breaker, clock } = setup({ halfOpenAfter: exponential({ initialMs: 100, factor: 2, maxMs: 1_000 }) });
    for (let index = 0; index < 3; index++) await settle(breaker.execute(fail));
    const waits: number[] = [];
    for (let opening = 0; opening < 5; opening++) {
      const nextProbeAt = breaker.snapshot().nextProbeAt as number;
      waits.push(nextProbeAt - clock.now());
      clock.set(nextProbeAt);
      await settle(breaker.execute(fail));
    }
    expect(waits).toEqual([100, 200, 400, 800, 1_000]);
    clock.set(breaker.snapshot().nextProbeAt as number);
    await breaker.execute(ok);
    for (let index = 0; index < 3; index++) await settle(breaker.execute(fail));
    expect((breaker.snapshot().nextProbeAt as number) - clock.now()).toBe(100);
  });

  it('isolate() holds it open with IsolatedCircuitError until reset()', async () => {
    const { breaker, clock, changes } = setup();
    breaker.isolate();
    expect(breaker.state).toBe('isolated');
    clock.advance(1_000_000);
    const error = await settle(breaker.execute(ok));
    expect(error).toBeInstanceOf(IsolatedCircuitError);
    expect(error).toMatchObject({ code: 'ISOLATED_CIRCUIT' });
    breaker.reset();
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(changes.map(({ to, reason }) => `${to}:${reason}`)).toEqual(['isolated:isolated', 'closed:reset']);
  });

  it('failureOn picks the errors that count; the others count as nothing', async () => {
    const { breaker } = setup({ failureOn: (error) => !(error instanceof TypeError) });
    const badRequest = async () => {
      throw new TypeError('bad request');
    };
    for (let index = 0; index < 10; index++) await settle(breaker.execute(badRequest));
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toMatchObject({ calls: 0, failures: 0 });
  });

  it('failureRate over a count window: opens at the threshold once minimumCalls is reached', async () => {
    const { breaker } = setup({
      strategy: failureRate({ threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 4 } }),
    });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    await breaker.execute(ok);
    // 2 of 3 failed, but 3 < minimumCalls.
    expect(breaker.snapshot()).toMatchObject({ calls: 3, failures: 2, state: 'closed' });
    await breaker.execute(ok);
    // 2 of 4 = 0.5 >= threshold, judged on the 4th call.
    expect(breaker.state).toBe('open');
  });

  it('failureRate over a count window forgets calls that slide out', async () => {
    const { breaker } = setup({
      strategy: failureRate({ threshold: 0.75, minimumCalls: 4, window: { kind: 'count', size: 4 } }),
    });
    for (const outcome of [fail, fail, ok, ok, ok, fail, fail]) await settle(breaker.execute(outcome));
    expect(breaker.snapshot()).toMatchObject({ calls: 4, failures: 2, failureRate: 0.5, state: 'closed' });
  });

  it('failureRate over a time window forgets calls older than the window', async () => {
    const { breaker, clock } = setup({
      strategy: failureRate({ threshold: 0.5, minimumCalls: 3, window: { kind: 'time', ms: 1_000 } }),
    });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    clock.advance(1_000);
    expect(breaker.snapshot()).toMatchObject({ calls: 0, failures: 0 });
    await breaker.execute(ok);
    await breaker.execute(ok);
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('closed');
    await settle(breaker.execute(fail));
    expect(breaker.state).toBe('open');
  });

  it('opens on the slow-call rate, measuring durations with the clock', async () => {
    const { breaker, clock } = setup({
      strategy: failureRate({
        threshold: 1,
        minimumCalls: 2,
        window: { kind: 'count', size: 10 },
        slowCallMs: 100,
        slowCallRate: 0.5,
      }),
    });
    const slow = () =>
      breaker.execute(async () => {
        clock.advance(150);
        return 'slow';
      });
    await breaker.execute(ok);
    expect(breaker.snapshot()).toMatchObject({ slowCalls: 0 });
    await slow();
    expect(breaker.snapshot()).toMatchObject({ calls: 2, slowCalls: 1, slowCallRate: 0.5, state: 'open' });
  });

  it('emits success, failure and rejected events with durations', async () => {
    const { breaker, clock } = setup({ strategy: consecutive(1) });
    const events: string[] = [];
    breaker.on('success', ({ durationMs, state }) => events.push(`success ${durationMs} ${state}`));
    breaker.on('failure', ({ durationMs }) => events.push(`failure ${durationMs}`));
    breaker.on('rejected', ({ error }) => events.push(`rejected ${error.name}`));
    await breaker.execute(async () => {
      clock.advance(5);
    });
    await settle(
      breaker.execute(async () => {
        clock.advance(7);
        throw new Error('x');
      }),
    );
    await settle(breaker.execute(ok));
    expect(events).toEqual(['success 5 closed', 'failure 7', 'rejected BrokenCircuitError']);
  });

  it('snapshot() reports counts, rates, state and the next probe time', async () => {
    const { breaker } = setup({ name: 'payments' });
    await breaker.execute(ok);
    await settle(breaker.execute(fail));
    expect(breaker.snapshot()).toEqual({
      name: 'payments',
      state: 'closed',
      calls: 2,
      failures: 1,
      slowCalls: 0,
      consecutiveFailures: 1,
      failureRate: 0.5,
      slowCallRate: 0,
      nextProbeAt: undefined,
      probesInFlight: 0,
      consecutiveOpenings: 0,
    });
    await settle(breaker.execute(fail));
    await settle(breaker.execute(fail));
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      nextProbeAt: 2_000,
      consecutiveOpenings: 1,
      failures: 3,
    });
  });

  it('passes the caller signal through and rejects at once if it is already aborted', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await breaker.execute(
      async ({ signal }) => {
        seen = signal;
      },
      { signal: controller.signal },
    );
    expect(seen).toBe(controller.signal);
    const reason = new Error('gone');
    await expect(breaker.execute(ok, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('validates every option at once', () => {
    try {
      circuitBreaker({
        strategy: undefined as never,
        halfOpenAfter: -1,
        halfOpenMaxCalls: 0,
        store: {} as never,
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).problems).toHaveLength(5);
    }
    expect(() => consecutive(0)).toThrow(InvalidOptionsError);
    try {
      failureRate({ threshold: 2, minimumCalls: 0, window: { kind: 'count', size: 0 }, slowCallMs: 10 });
      expect.unreachable();
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(4);
    }
  });

  it('does not count calls its caller cancelled', async () => {
    const { breaker } = setup({ strategy: consecutive(1) });
    const controller = new AbortController();
    const result = breaker.execute(
      ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: controller.signal },
    );
    controller.abort(new Error('client closed the request'));
    await settle(result);
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toMatchObject({ calls: 0, failures: 0 });
    await settle(breaker.execute(fail, { signal: new AbortController().signal }));
    expect(breaker.state).toBe('open');
  });
});
