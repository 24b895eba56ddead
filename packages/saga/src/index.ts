/**
 * Sagas for Node.js: typed step definitions, an orchestrator with compensations, a persistent
 * log with leases, and crash recovery.
 *
 * @packageDocumentation
 */
export { SagaError } from './errors.js';
