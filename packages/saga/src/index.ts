/**
 * Sagas for Node.js: typed step definitions, an orchestrator with compensations, a persistent
 * log with leases, and crash recovery.
 *
 * @module @bulwark/saga
 */
export * from './choreography/index.js';
export * from './definition/index.js';
export * from './errors/index.js';
export * from './log/index.js';
export * from './orchestrator/index.js';
