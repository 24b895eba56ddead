import type { Clock } from '@bulwark/resilience';

/**
 * Waits for `pending` to settle, or for `deadlineMs` on `clock`, whichever comes first. Resolves
 * true when everything settled in time. Shared by the transports' subscriptions and the consumer
 * for their graceful close.
 */
export function settledWithin(clock: Clock, pending: Iterable<Promise<unknown>>, deadlineMs: number): Promise<boolean> {
  const list = [...pending];
  if (list.length === 0) return Promise.resolve(true);
  const all = Promise.allSettled(list).then(() => true);
  if (!Number.isFinite(deadlineMs)) return all;
  // No deadline: decide now rather than on a timer (a manual clock might never fire it).
  if (deadlineMs <= 0) return Promise.race([all, Promise.resolve(false)]);
  return new Promise<boolean>((resolve) => {
    const timer = clock.setTimeout(() => resolve(false), Math.max(0, deadlineMs));
    void all.then(() => {
      clock.clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A rejected promise's reason as an Error. */
export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
