import { uniqueName } from '@bulwark/test-support';
import { type MemoryRateLimitStore, memoryRateLimitStore } from '../../src/index.js';
import { manualClock, rateLimitStoreConformance } from '../../src/testing/index.js';

// The memory store passes the same suite on a manual clock (no sleeps). Named *.conformance.test.ts
// like every adapter's run of the suite; it needs no server.
const clock = manualClock(1_700_000_000_000);
rateLimitStoreConformance('memoryRateLimitStore', {
  keyPrefix: uniqueName('rl'),
  createStore: () => memoryRateLimitStore({ clock }),
  advance: (ms) => clock.advanceAsync(ms),
  keyExists: async (store, key) => (store as MemoryRateLimitStore).has(key),
  sweep: async (store) => {
    (store as MemoryRateLimitStore).sweep();
  },
});
