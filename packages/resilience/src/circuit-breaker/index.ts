export type { AcquireProbeOptions, CircuitStateStore, SharedCircuitState } from './circuit-state-store.js';
export type { MemoryCircuitStateStoreOptions } from './memory-circuit-state-store.js';
export { memoryCircuitStateStore } from './memory-circuit-state-store.js';
