import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

describe('manualClock', () => {
  it('fires timers in due order, at their due time', () => {
    const clock = manualClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
    const cleared = clock.setTimeout(() => fired.push(['never', clock.now()]), 5);
    clock.clearTimeout(cleared);
    clock.advance(15);
    expect(fired).toEqual([['a', 1_010]]);
    expect(clock.now()).toBe(1_015);
    clock.advance(100);
    expect(fired).toEqual([
      ['a', 1_010],
      ['b', 1_020],
    ]);
    expect(clock.now()).toBe(1_115);
  });

  it('advanceAsync lets promise chains schedule timers that fire in the same window', async () => {
    const clock = manualClock();
    const fired: number[] = [];
    const tick = () =>
      new Promise<void>((resolve) => clock.setTimeout(resolve, 10)).then(() => {
        fired.push(clock.now());
      });
    void tick().then(tick).then(tick);
    await clock.advanceAsync(30);
    expect(fired).toEqual([10, 20, 30]);
  });

  it('refuses to go backwards', () => {
    const clock = manualClock(50);
    expect(() => clock.set(10)).toThrow(RangeError);
  });
});
