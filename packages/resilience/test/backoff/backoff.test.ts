import { constant, exponential, InvalidOptionsError, linear } from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

const input = (attempt: number, previousDelayMs = 0, random = () => 0.5) => ({ attempt, previousDelayMs, random });

describe('backoff', () => {
  it('constant returns the same delay', () => {
    const backoff = constant({ ms: 200 });
    expect([1, 2, 5].map((attempt) => backoff.delayMs(input(attempt)))).toEqual([200, 200, 200]);
  });

  it('linear grows by stepMs and stops at maxMs', () => {
    const backoff = linear({ initialMs: 100, stepMs: 50, maxMs: 220 });
    expect([1, 2, 3, 4].map((attempt) => backoff.delayMs(input(attempt)))).toEqual([100, 150, 200, 220]);
  });

  it('exponential multiplies by factor and stops at maxMs', () => {
    const backoff = exponential({ initialMs: 100, factor: 3, maxMs: 1_000 });
    expect([1, 2, 3, 4].map((attempt) => backoff.delayMs(input(attempt)))).toEqual([100, 300, 900, 1_000]);
  });

  it('full jitter scales the delay by the random number', () => {
    const backoff = exponential({ initialMs: 100, jitter: 'full' });
    expect(backoff.delayMs(input(3, 0, () => 0.25))).toBe(100);
    expect(backoff.delayMs(input(3, 0, () => 0))).toBe(0);
  });

  it('decorrelated jitter draws between initialMs and three times the previous delay, capped', () => {
    const backoff = exponential({ initialMs: 100, maxMs: 1_000, jitter: 'decorrelated' });
    expect(backoff.delayMs(input(1, 0, () => 0))).toBe(100);
    expect(backoff.delayMs(input(2, 200, () => 1))).toBe(600);
    expect(backoff.delayMs(input(5, 900, () => 1))).toBe(1_000);
  });

  it('reports every invalid option at once', () => {
    const error = (() => {
      try {
        exponential({ initialMs: -1, factor: 0.5, maxMs: Number.NaN, jitter: 'some' as never });
      } catch (caught) {
        return caught;
      }
    })() as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.problems).toHaveLength(4);
    expect(() => constant({ ms: -5 })).toThrow(/ms must be/);
    expect(() => linear({ initialMs: 10, stepMs: -1 })).toThrow(/stepMs/);
  });
});
