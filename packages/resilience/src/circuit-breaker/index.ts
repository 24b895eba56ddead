export type {
  BreakerRecorder,
  BreakerStats,
  BreakerStrategy,
  BreakerWindow,
  FailureRateOptions,
} from './breaker-strategy.js';
export { consecutive, failureRate, failureRateDefaults } from './breaker-strategy.js';
export type { CircuitBreakerPolicy, CircuitBreakerSnapshot } from './circuit-breaker.js';
export { circuitBreaker } from './circuit-breaker.js';
export { BrokenCircuitError, IsolatedCircuitError } from './circuit-breaker-errors.js';
export type {
  CircuitBreakerEvents,
  CircuitFailureEvent,
  CircuitRejectedEvent,
  CircuitStoreErrorEvent,
  CircuitSuccessEvent,
  StateChangeEvent,
  StateChangeReason,
} from './circuit-breaker-events.js';
export type { CircuitBreakerOptions, CircuitState } from './circuit-breaker-options.js';
export { circuitBreakerDefaults } from './circuit-breaker-options.js';
export type { AcquireProbeOptions, CircuitStateStore, SharedCircuitState } from './circuit-state-store.js';
export type { MemoryCircuitStateStoreOptions } from './memory-circuit-state-store.js';
export { memoryCircuitStateStore } from './memory-circuit-state-store.js';
