import { abortable } from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

describe('abortable', () => {
  it('settles as the promise does when the signal never aborts', async () => {
    const controller = new AbortController();
    await expect(abortable(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error('no')), controller.signal)).rejects.toThrow('no');
    await expect(abortable(Promise.resolve(1), undefined)).resolves.toBe(1);
  });

  it('rejects with the reason as soon as the signal aborts, before the work settles', async () => {
    const controller = new AbortController();
    const waiting = abortable(new Promise<never>(() => {}), controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await expect(abortable(Promise.resolve(1), AbortSignal.abort(new Error('early')))).rejects.toThrow('early');
  });

  it('leaves no abort listener behind once the work settles', async () => {
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    const remove = controller.signal.removeEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners += 1;
      add(...args);
    }) as typeof add;
    controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners -= 1;
      remove(...args);
    }) as typeof remove;
    await abortable(Promise.resolve('done'), controller.signal);
    await abortable(Promise.reject(new Error('x')), controller.signal).catch(() => {});
    expect(listeners).toBe(0);
  });
});
