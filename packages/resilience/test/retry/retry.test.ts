import {
  attemptsOf,
  constant,
  exponential,
  type GiveUpEvent,
  InvalidOptionsError,
  IsolatedCircuitError,
  type RetryEvent,
  retry,
  retryBudget,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

class Transient extends Error {
  constructor(readonly retryAfterMs?: number) {
    super('transient');
  }
}

/** A function failing `failures` times, recording the attempt numbers it saw. */
function flaky(failures: number, error: () => unknown = () => new Transient()) {
  const attempts: number[] = [];
  const fn = async ({ attempt }: { attempt: number }) => {
    attempts.push(attempt);
    if (attempts.length <= failures) throw error();
    return `ok after ${attempts.length}`;
  };
  return { fn, attempts };
}

describe('retry', () => {
  it('retries until success, passing the attempt number', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constant({ ms: 100 }), clock });
    const { fn, attempts } = flaky(2);
    const result = policy.execute(fn);
    await clock.advanceAsync(200);
    await expect(result).resolves.toBe('ok after 3');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('rethrows the last error with the attempt count attached when attempts run out', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constant({ ms: 10 }), clock });
    const errors: unknown[] = [];
    const { fn, attempts } = flaky(10, () => {
      const error = new Transient();
      errors.push(error);
      return error;
    });
    const result = policy.execute(fn);
    result.catch(() => {});
    await clock.advanceAsync(100);
    const error = await result.catch((caught: unknown) => caught);
    expect(error).toBe(errors[2]);
    expect(attemptsOf(error)).toBe(3);
    expect(attempts).toEqual([1, 2, 3]);
    expect(attemptsOf(new Error('never retried'))).toBeUndefined();
  });

  it('waits the backoff delays between attempts', async () => {
    const clock = manualClock();
    const policy = retry({
      maxAttempts: 4,
      backoff: { delayMs: ({ attempt }) => attempt * 100 },
      clock,
    });
    const startedAt: number[] = [];
    const result = policy.execute(async () => {
      startedAt.push(clock.now());
      throw new Transient();
    });
    result.catch(() => {});
    await clock.advanceAsync(1_000);
    expect(startedAt).toEqual([0, 100, 300, 600]);
    await expect(result).rejects.toBeInstanceOf(Transient);
  });

  it('uses the retryAfterMs an error carries as the next delay', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 2, backoff: constant({ ms: 10 }), clock });
    const startedAt: number[] = [];
    const result = policy.execute(async () => {
      startedAt.push(clock.now());
      if (startedAt.length === 1) throw new Transient(1_500);
      return 'ok';
    });
    await clock.advanceAsync(1_499);
    expect(startedAt).toEqual([0]);
    await clock.advanceAsync(1);
    await expect(result).resolves.toBe('ok');
    expect(startedAt).toEqual([0, 1_500]);
  });

  it('does not retry errors retryOn rejects, nor IsolatedCircuitError by default', async () => {
    const policy = retry({
      maxAttempts: 5,
      backoff: constant({ ms: 0 }),
      retryOn: (error) => error instanceof Transient,
    });
    const { fn, attempts } = flaky(10, () => new TypeError('bad input'));
    await expect(policy.execute(fn)).rejects.toBeInstanceOf(TypeError);
    expect(attempts).toEqual([1]);

    const defaults = retry({ maxAttempts: 5, backoff: constant({ ms: 0 }) });
    const isolated = flaky(10, () => new IsolatedCircuitError('payments'));
    await expect(defaults.execute(isolated.fn)).rejects.toBeInstanceOf(IsolatedCircuitError);
    expect(isolated.attempts).toEqual([1]);
  });

  it('retries results retryOnResult matches and returns the last one when attempts run out', async () => {
    const policy = retry({
      maxAttempts: 3,
      backoff: constant({ ms: 0 }),
      retryOnResult: (result) => (result as { status: number }).status === 503,
    });
    let calls = 0;
    const result = await policy.execute(async () => ({ status: ++calls < 3 ? 503 : 200 }));
    expect(result).toEqual({ status: 200 });
    const always = await policy.execute(async () => ({ status: 503 }));
    expect(always).toEqual({ status: 503 });
  });

  it('gives up when the next delay would pass maxElapsedMs', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 10, maxElapsedMs: 250, backoff: constant({ ms: 100 }), clock });
    const giveUps: GiveUpEvent[] = [];
    policy.onGiveUp((event) => giveUps.push(event));
    const { fn, attempts } = flaky(10);
    const result = policy.execute(fn);
    result.catch(() => {});
    await clock.advanceAsync(1_000);
    await expect(result).rejects.toBeInstanceOf(Transient);
    expect(attempts).toEqual([1, 2, 3]);
    expect(giveUps).toMatchObject([{ attempts: 3, reason: 'max-elapsed' }]);
  });

  it('ends the wait at once when the signal aborts, rejecting with its reason', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constant({ ms: 10_000 }), clock });
    const controller = new AbortController();
    const { fn, attempts } = flaky(10);
    const result = policy.execute(fn, { signal: controller.signal });
    await clock.advanceAsync(1);
    expect(clock.pendingTimers()).toBe(1);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(attempts).toEqual([1]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects at once with the reason of an already aborted signal', async () => {
    const reason = new Error('already');
    const { fn, attempts } = flaky(0);
    await expect(retry().execute(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(attempts).toEqual([]);
  });

  it('emits retry events with the next attempt, delay and error', async () => {
    const clock = manualClock();
    const policy = retry({ maxAttempts: 3, backoff: constant({ ms: 50 }), clock });
    const events: RetryEvent[] = [];
    const subscription = policy.on('retry', (event) => events.push(event));
    const { fn } = flaky(2);
    const result = policy.execute(fn);
    await clock.advanceAsync(100);
    await result;
    expect(events.map(({ attempt, delayMs }) => ({ attempt, delayMs }))).toEqual([
      { attempt: 2, delayMs: 50 },
      { attempt: 3, delayMs: 50 },
    ]);
    expect(events[0]?.error).toBeInstanceOf(Transient);
    subscription.dispose();
  });

  it('stops retrying when the retry budget is spent', async () => {
    const clock = manualClock();
    const budget = retryBudget({ ratio: 0.5, minRetries: 1, windowMs: 1_000, clock });
    const policy = retry({ maxAttempts: 5, backoff: constant({ ms: 0 }), budget, clock });
    const reasons: string[] = [];
    policy.onGiveUp(({ reason }) => reasons.push(reason));
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Transient();
    };
    // Budget: max(1, floor(0.5 x calls)) retries per window.
    for (let index = 0; index < 4; index++) await policy.execute(failing).catch(() => {});
    expect(budget.snapshot()).toEqual({ calls: 4, retries: 2, available: 0 });
    expect(calls).toBe(6);
    expect(reasons.filter((reason) => reason === 'budget')).toHaveLength(4);
    // The window slides: old calls and retries are forgotten.
    clock.advance(1_000);
    expect(budget.snapshot()).toEqual({ calls: 0, retries: 0, available: 1 });
  });

  it('validates every option at once', () => {
    try {
      retry({ maxAttempts: 0, maxElapsedMs: -1, backoff: {} as never, retryOn: 'x' as never });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).problems).toHaveLength(4);
      expect((error as InvalidOptionsError).code).toBe('INVALID_OPTIONS');
    }
    expect(() => retryBudget({ ratio: -1, windowMs: 1 })).toThrow(InvalidOptionsError);
  });

  it('draws jitter from the injected random source', async () => {
    const clock = manualClock();
    const policy = retry({
      maxAttempts: 3,
      backoff: exponential({ initialMs: 100, jitter: 'full' }),
      random: () => 0.5,
      clock,
    });
    const delays: number[] = [];
    policy.onRetry(({ delayMs }) => delays.push(delayMs));
    const result = policy.execute(async () => {
      throw new Transient();
    });
    result.catch(() => {});
    await clock.advanceAsync(1_000);
    expect(delays).toEqual([50, 100]);
  });
});
