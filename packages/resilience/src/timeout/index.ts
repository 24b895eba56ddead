export type { TimeoutPolicy } from './timeout.js';
export { timeout } from './timeout.js';
export { TimeoutError } from './timeout-errors.js';
export type { TimeoutEvent, TimeoutEvents } from './timeout-events.js';
export type { TimeoutOptions, TimeoutStrategy } from './timeout-options.js';
export { timeoutDefaults } from './timeout-options.js';
