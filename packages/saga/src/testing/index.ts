/**
 * The conformance suite every `SagaLog` adapter must pass.
 *
 * @module @bulwark/saga/testing
 */
export type { SagaLogConformanceOptions } from './saga-log-conformance.js';
export { sagaLogConformance } from './saga-log-conformance.js';
