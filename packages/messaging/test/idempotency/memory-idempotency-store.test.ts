import { memoryIdempotencyStore } from '@bulwark/messaging';
import { idempotencyStoreConformance } from '@bulwark/messaging/testing';
import { manualClock } from '@bulwark/resilience/testing';

idempotencyStoreConformance('memory', {
  createHarness: async () => {
    const clock = manualClock(1_700_000_000_000);
    return {
      store: memoryIdempotencyStore({ clock }),
      now: () => clock.now(),
      elapse: (ms) => clock.advanceAsync(ms),
    };
  },
  renew: true,
  toleranceMs: 0,
});
