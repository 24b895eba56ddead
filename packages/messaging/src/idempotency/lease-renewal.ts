import type { Clock } from '@bulwark/resilience';
import type { IdempotencyStore } from './idempotency-store.js';

/**
 * Renews a held lease every third of `leaseMs` until the returned function is called, so slow
 * work keeps its key while a crashed process still loses it after `leaseMs`. Stops by itself
 * once the store says the lease is no longer held; a failed renewal is tried again next period
 * (two more chances before the lease runs out). Does nothing for stores without `renew`.
 */
export function renewLeaseWhileRunning(
  store: IdempotencyStore,
  key: string,
  leaseToken: string,
  leaseMs: number,
  clock: Clock,
): () => void {
  if (typeof store.renew !== 'function') return () => {};
  let timer: unknown;
  let stopped = false;
  const schedule = () => {
    timer = clock.setTimeout(
      () => {
        void store.renew?.(key, leaseToken, leaseMs).then(
          (held) => {
            if (held && !stopped) schedule();
          },
          () => {
            if (!stopped) schedule();
          },
        );
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    );
  };
  schedule();
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}
