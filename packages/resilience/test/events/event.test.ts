import { EventEmitter } from '@bulwark/resilience';
import { describe, expect, it, vi } from 'vitest';

describe('EventEmitter', () => {
  it('delivers to listeners until they are disposed', () => {
    const emitter = new EventEmitter<number>();
    expect(emitter.hasListeners).toBe(false);
    const seen: number[] = [];
    const subscription = emitter.event((value) => seen.push(value));
    expect(emitter.hasListeners).toBe(true);
    emitter.emit(1);
    subscription.dispose();
    subscription.dispose();
    emitter.emit(2);
    expect(seen).toEqual([1]);
    expect(emitter.hasListeners).toBe(false);
  });

  it('supports `using` through Symbol.dispose', () => {
    const emitter = new EventEmitter<number>();
    const seen: number[] = [];
    {
      const subscription = emitter.event((value) => seen.push(value));
      emitter.emit(1);
      subscription[Symbol.dispose]();
    }
    emitter.emit(2);
    expect(seen).toEqual([1]);
  });

  it('a throwing listener does not stop the others; its error is rethrown asynchronously', () => {
    const emitter = new EventEmitter<number>();
    const seen: number[] = [];
    emitter.event(() => {
      throw new Error('listener broke');
    });
    emitter.event((value) => seen.push(value));
    const scheduled: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      scheduled.push(callback);
    });
    try {
      emitter.emit(7);
    } finally {
      spy.mockRestore();
    }
    expect(seen).toEqual([7]);
    expect(scheduled).toHaveLength(1);
    expect(() => scheduled[0]?.()).toThrow('listener broke');
  });
});
