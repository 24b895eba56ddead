/**
 * The conformance suite every `SagaLog` adapter must pass.
 *
 * @packageDocumentation
 */
export type { SagaLogConformanceOptions } from './saga-log-conformance.js';
export { sagaLogConformance } from './saga-log-conformance.js';
