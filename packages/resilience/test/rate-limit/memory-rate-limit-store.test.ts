import { type MemoryRateLimitStore, memoryRateLimitStore } from '@bulwark/resilience';
import { manualClock, rateLimitStoreConformance } from '@bulwark/resilience/testing';
import { uniqueName } from '@bulwark/test-support';

// The memory store passes the same suite on a manual clock (no sleeps). A plain *.test.ts: it
// needs no server (see README, "Working on Bulwark").
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
