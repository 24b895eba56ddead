import { BulkheadRejectedError, bulkhead, ExecutionRejectedError, InvalidOptionsError } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

/** A call that runs until released. */
function gate() {
  const releases: (() => void)[] = [];
  const fn = () => new Promise<string>((resolve) => releases.push(() => resolve('done')));
  return { fn, releases, releaseNext: () => releases.shift()?.() };
}
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('bulkhead', () => {
  it('runs at most maxConcurrent calls, queues up to maxQueue, rejects the rest', async () => {
    const policy = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    const { fn, releases, releaseNext } = gate();
    const calls = [policy.execute(fn), policy.execute(fn), policy.execute(fn)];
    const rejected = await policy.execute(fn).catch((error: unknown) => error);
    expect(rejected).toBeInstanceOf(BulkheadRejectedError);
    expect(rejected).toBeInstanceOf(ExecutionRejectedError);
    expect(rejected).toMatchObject({ code: 'BULKHEAD_REJECTED', reason: 'full' });
    expect(releases).toHaveLength(2);
    expect(policy.snapshot()).toEqual({ running: 2, queued: 1, maxConcurrent: 2, maxQueue: 1 });
    releaseNext();
    await flush();
    expect(releases).toHaveLength(2);
    expect(policy.snapshot()).toMatchObject({ running: 2, queued: 0 });
    releaseNext();
    releaseNext();
    await expect(Promise.all(calls)).resolves.toEqual(['done', 'done', 'done']);
    expect(policy.snapshot()).toMatchObject({ running: 0, queued: 0 });
  });

  it('serves the queue in FIFO order and a freed slot goes to the queue, not a newcomer', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const order: number[] = [];
    const { fn, releaseNext } = gate();
    const first = policy.execute(fn);
    const queued = [1, 2, 3].map((index) => policy.execute(async () => void order.push(index)));
    releaseNext();
    const newcomer = policy.execute(async () => void order.push(4));
    await Promise.all([first, ...queued, newcomer]);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('rejects a queued call after queueTimeoutMs', async () => {
    const clock = manualClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 100, clock });
    const reasons: string[] = [];
    policy.onRejected(({ reason }) => reasons.push(reason));
    const { fn, releaseNext } = gate();
    const running = policy.execute(fn);
    const queued = policy.execute(fn);
    queued.catch(() => {});
    await clock.advanceAsync(100);
    await expect(queued).rejects.toMatchObject({ reason: 'queue-timeout' });
    expect(reasons).toEqual(['queue-timeout']);
    expect(policy.snapshot().queued).toBe(0);
    releaseNext();
    await running;
  });

  it('an aborted caller leaves the queue at once, freeing its place', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const { fn, releaseNext } = gate();
    const running = policy.execute(fn);
    const controller = new AbortController();
    let ran = false;
    const queued = policy.execute(async () => (ran = true), { signal: controller.signal });
    const reason = new Error('client went away');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    expect(policy.snapshot().queued).toBe(0);
    const next = policy.execute(async () => 'next');
    releaseNext();
    await expect(next).resolves.toBe('next');
    await running;
    expect(ran).toBe(false);
  });

  it('frees the slot when the call fails', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    await expect(
      policy.execute(() => {
        throw new Error('sync failure');
      }),
    ).rejects.toThrow('sync failure');
    await expect(policy.execute(async () => 'after')).resolves.toBe('after');
  });

  it('validates every option at once', () => {
    try {
      bulkhead({ maxConcurrent: 0, maxQueue: 1.5, queueTimeoutMs: -1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).problems).toHaveLength(3);
    }
  });
});
