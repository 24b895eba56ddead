import { hedge, type InvalidOptionsError } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

/** Each call waits until resolved or rejected by hand; records its signal. */
function controllable() {
  const attempts: {
    attempt: number;
    signal: AbortSignal;
    resolve: (value: string) => void;
    reject: (error: unknown) => void;
  }[] = [];
  const fn = ({ attempt, signal }: { attempt: number; signal: AbortSignal }) =>
    new Promise<string>((resolve, reject) => attempts.push({ attempt, signal, resolve, reject }));
  return { fn, attempts };
}

describe('hedge', () => {
  it('does not hedge a call that settles before hedgeDelayMs', async () => {
    const clock = manualClock();
    const policy = hedge({ hedgeDelayMs: 100, clock });
    const { fn, attempts } = controllable();
    const result = policy.execute(fn);
    await clock.advanceAsync(50);
    attempts[0]?.resolve('primary');
    await expect(result).resolves.toBe('primary');
    await clock.advanceAsync(100);
    expect(attempts).toHaveLength(1);
  });

  it('starts up to maxHedgedAttempts more after each delay; the first success wins, the others abort', async () => {
    const clock = manualClock();
    const policy = hedge({ hedgeDelayMs: 100, maxHedgedAttempts: 2, clock });
    const started: unknown[] = [];
    policy.onHedge((event) => started.push(event));
    const { fn, attempts } = controllable();
    const result = policy.execute(fn);
    await clock.advanceAsync(100);
    expect(attempts.map(({ attempt }) => attempt)).toEqual([1, 2]);
    await clock.advanceAsync(100);
    expect(attempts.map(({ attempt }) => attempt)).toEqual([1, 2, 3]);
    await clock.advanceAsync(1_000);
    expect(attempts).toHaveLength(3);
    attempts[1]?.resolve('second');
    await expect(result).resolves.toBe('second');
    expect(attempts.map(({ signal }) => signal.aborted)).toEqual([true, false, true]);
    expect(started).toEqual([
      { attempt: 2, trigger: 'delay' },
      { attempt: 3, trigger: 'delay' },
    ]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('starts the next attempt at once when one fails, and rejects with the last error when all fail', async () => {
    const clock = manualClock();
    const policy = hedge({ hedgeDelayMs: 100, maxHedgedAttempts: 1, clock });
    const { fn, attempts } = controllable();
    const result = policy.execute(fn);
    result.catch(() => {});
    attempts[0]?.reject(new Error('first'));
    await clock.advanceAsync(0);
    expect(attempts).toHaveLength(2);
    const last = new Error('second');
    attempts[1]?.reject(last);
    await expect(result).rejects.toBe(last);
  });

  it('validates options', () => {
    try {
      hedge({ hedgeDelayMs: -1, maxHedgedAttempts: 0 });
      expect.unreachable();
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(2);
    }
  });

  it("aborts every attempt when the caller's signal aborts, and rejects with its reason", async () => {
    const clock = manualClock();
    const policy = hedge({ hedgeDelayMs: 10, clock });
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const result = policy.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          signals.push(signal);
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { signal: controller.signal },
    );
    await clock.advanceAsync(10);
    expect(signals).toHaveLength(2);
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    await clock.advanceAsync(100);
    expect(signals).toHaveLength(2);
  });
});
