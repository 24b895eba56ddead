export type { BulkheadEvents, BulkheadPolicy, BulkheadRejectedEvent, BulkheadSnapshot } from './bulkhead.js';
export { bulkhead } from './bulkhead.js';
export type { BulkheadRejectionReason } from './bulkhead-errors.js';
export { BulkheadRejectedError } from './bulkhead-errors.js';
export type { BulkheadOptions } from './bulkhead-options.js';
export { bulkheadDefaults } from './bulkhead-options.js';
