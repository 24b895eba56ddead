import { memoryCircuitStateStore } from '@bulwark/resilience';
import { circuitStateStoreConformance, manualClock } from '@bulwark/resilience/testing';

// The in-memory reference store on the same suite every CircuitStateStore adapter must pass.
// It expires leases by the caller's `now`, so a manual clock is enough: no sleeping.
const clock = manualClock(1_000_000);
circuitStateStoreConformance('memoryCircuitStateStore', {
  namePrefix: 'memory-circuit',
  createStore: () => memoryCircuitStateStore(),
  startAt: clock.now(),
  advance: async (ms) => clock.advance(ms),
});
