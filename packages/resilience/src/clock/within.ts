import type { Clock } from './clock.js';

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `timeoutMs` passed on `clock`,
 * whichever comes first. For a driver call that has no timeout of its own (a command on a silent
 * connection waits forever): the caller stops waiting; the call may still finish, or fail, later
 * (its late rejection is handled here, never left unhandled).
 */
export function within<T>(clock: Clock, promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(onTimeout()), timeoutMs);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}
