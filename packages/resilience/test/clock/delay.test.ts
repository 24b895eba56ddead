import { delay } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

describe('delay', () => {
  it('resolves only once the clock reaches the delay', async () => {
    const clock = manualClock();
    let resolved = false;
    const waiting = delay(clock, 100).then(() => {
      resolved = true;
    });
    await clock.advanceAsync(99);
    expect(resolved).toBe(false);
    await clock.advanceAsync(1);
    await waiting;
    expect(resolved).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects with the signal reason at once and clears its timer', async () => {
    const clock = manualClock();
    const controller = new AbortController();
    const waiting = delay(clock, 1_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects without scheduling when the signal is already aborted', async () => {
    const clock = manualClock();
    await expect(delay(clock, 10, AbortSignal.abort(new Error('early')))).rejects.toThrow('early');
    expect(clock.pendingTimers()).toBe(0);
  });
});
