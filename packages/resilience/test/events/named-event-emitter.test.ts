import { EventEmitter, NamedEventEmitter } from '@bulwark/resilience';
import { describe, expect, it, vi } from 'vitest';

interface Events {
  opened: { readonly id: number };
  closed: { readonly id: number };
}

describe('EventSubscription', () => {
  it('removes the listener when called, disposed or left by `using`, and only once', () => {
    const emitter = new EventEmitter<number>();
    const seen: number[] = [];
    const called = emitter.event((value) => seen.push(value));
    const disposed = emitter.event((value) => seen.push(value * 10));
    {
      using _scoped = emitter.event((value) => seen.push(value * 100));
      emitter.emit(1);
    }
    called();
    called();
    disposed.dispose();
    disposed[Symbol.dispose]();
    emitter.emit(2);
    expect(seen).toEqual([1, 10, 100]);
    expect(emitter.hasListeners).toBe(false);
  });
});

describe('NamedEventEmitter', () => {
  it('delivers each event to the listeners of its name only, until they unsubscribe', () => {
    const emitter = new NamedEventEmitter<Events>();
    const opened: number[] = [];
    const closed: number[] = [];
    const unsubscribe = emitter.on('opened', ({ id }) => opened.push(id));
    emitter.on('closed', ({ id }) => closed.push(id));
    emitter.emit('opened', { id: 1 });
    emitter.emit('closed', { id: 2 });
    unsubscribe();
    emitter.emit('opened', { id: 3 });
    expect(opened).toEqual([1]);
    expect(closed).toEqual([2]);
    expect(emitter.has('opened')).toBe(false);
    expect(emitter.has('closed')).toBe(true);
  });

  it('builds a lazy event only when someone listens', () => {
    const emitter = new NamedEventEmitter<Events>();
    const make = vi.fn(() => ({ id: 1 }));
    emitter.emit('opened', make);
    expect(make).not.toHaveBeenCalled();
    const seen: number[] = [];
    emitter.on('opened', ({ id }) => seen.push(id));
    emitter.emit('opened', make);
    expect(make).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([1]);
  });

  it('calls the other listeners when one throws, and rethrows its error asynchronously', () => {
    const emitter = new NamedEventEmitter<Events>();
    const queued = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation(() => {});
    try {
      const seen: number[] = [];
      emitter.on('opened', () => {
        throw new Error('listener bug');
      });
      emitter.on('opened', ({ id }) => seen.push(id));
      expect(() => emitter.emit('opened', { id: 7 })).not.toThrow();
      expect(seen).toEqual([7]);
      expect(queued).toHaveBeenCalledTimes(1);
      const rethrow = queued.mock.calls[0]?.[0] as () => void;
      expect(rethrow).toThrow('listener bug');
    } finally {
      queued.mockRestore();
    }
  });
});
