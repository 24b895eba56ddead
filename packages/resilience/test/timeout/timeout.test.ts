import { InvalidOptionsError, TimeoutError, timeout } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

/** Resolves when `signal` aborts, rejecting with its reason: a well-behaved cancellable operation. */
const untilAborted = ({ signal }: { signal: AbortSignal }) =>
  new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('timeout', () => {
  it('cooperative: aborts the signal at the deadline and rejects with TimeoutError', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, clock });
    let seen: AbortSignal | undefined;
    const result = policy.execute((context) => {
      seen = context.signal;
      return untilAborted(context);
    });
    result.catch(() => {});
    await clock.advanceAsync(99);
    expect(seen?.aborted).toBe(false);
    await clock.advanceAsync(1);
    const error = await result.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', timeoutMs: 100 });
    expect(seen?.reason).toBe(error);
  });

  it('cooperative: a call ignoring its signal settles when it finishes, a late failure becomes a TimeoutError', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, clock });
    let finish!: (value: string) => void;
    const late = policy.execute(() => new Promise<string>((resolve) => (finish = resolve)));
    await clock.advanceAsync(150);
    finish('late value');
    await expect(late).resolves.toBe('late value');

    let fail!: (error: Error) => void;
    const failing = policy.execute(() => new Promise<string>((_, reject) => (fail = reject)));
    failing.catch(() => {});
    await clock.advanceAsync(150);
    const cause = new Error('connection reset');
    fail(cause);
    const error = await failing.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).cause).toBe(cause);
  });

  it('aggressive: rejects at the deadline even if fn ignores its signal', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, strategy: 'aggressive', clock });
    const result = policy.execute(() => new Promise(() => {}));
    result.catch(() => {});
    await clock.advanceAsync(100);
    await expect(result).rejects.toBeInstanceOf(TimeoutError);
  });

  it("aggressive: rejects at once with the caller's abort reason", async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, strategy: 'aggressive', clock });
    const controller = new AbortController();
    const result = policy.execute(() => new Promise(() => {}), { signal: controller.signal });
    const reason = new Error('caller left');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
  });

  it('passes results and errors through before the deadline', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, clock });
    await expect(policy.execute(() => 42)).resolves.toBe(42);
    const error = new Error('boom');
    await expect(
      policy.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    await expect(timeout({ ms: 100, clock, strategy: 'aggressive' }).execute(async () => 'fast')).resolves.toBe('fast');
  });

  it("follows the caller's signal: fn's signal aborts with the caller's reason", async () => {
    const clock = manualClock();
    const controller = new AbortController();
    const result = timeout({ ms: 1_000, clock }).execute(untilAborted, { signal: controller.signal });
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
  });

  it('shares one timer between concurrent calls, and leaves no timer once idle', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, clock });
    const calls = Array.from({ length: 50 }, () => policy.execute(async () => 'ok'));
    expect(clock.pendingTimers()).toBe(1);
    await Promise.all(calls);
    // The armed timer fires once at the old deadline, finds nothing, and is not re-armed.
    await clock.advanceAsync(100);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('fires each deadline at its own time although calls share the timer', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 100, clock });
    const timedOutAt: number[] = [];
    policy.onTimeout(() => timedOutAt.push(clock.now()));
    const first = policy.execute(untilAborted);
    await clock.advanceAsync(30);
    const second = policy.execute(untilAborted);
    first.catch(() => {});
    second.catch(() => {});
    await clock.advanceAsync(200);
    expect(timedOutAt).toEqual([100, 130]);
  });

  it('emits timeout events through on()', async () => {
    const clock = manualClock();
    const policy = timeout({ ms: 10, clock });
    const events: unknown[] = [];
    policy.on('timeout', (event) => events.push(event));
    const result = policy.execute(untilAborted);
    result.catch(() => {});
    await clock.advanceAsync(10);
    expect(events).toEqual([{ timeoutMs: 10, attempt: 1 }]);
  });

  it('validates options', () => {
    expect(() => timeout({ ms: -1, strategy: 'eager' as never })).toThrow(InvalidOptionsError);
    try {
      timeout({ ms: -1, strategy: 'eager' as never });
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(2);
    }
  });
});
