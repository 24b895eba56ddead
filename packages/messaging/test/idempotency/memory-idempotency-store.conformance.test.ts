import { manualClock } from '@bulwark/resilience/testing';
import { memoryIdempotencyStore } from '../../src/idempotency/index.js';
import { idempotencyStoreConformance } from '../../src/testing/index.js';

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
