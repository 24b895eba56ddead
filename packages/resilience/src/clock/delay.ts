import type { Clock } from './clock.js';

/**
 * Resolves after `delayMs` on `clock`; rejects with `signal.reason` as soon as `signal` aborts,
 * leaving no timer or listener behind either way. The wait keeps the process alive (someone
 * awaits it): a script whose only pending work is a retry's backoff does not exit early.
 */
export function delay(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (delayMs <= 0 && !signal) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, delayMs),
      { keepAlive: true },
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
