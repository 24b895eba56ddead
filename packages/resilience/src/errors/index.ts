export { BulwarkError } from './bulwark-error.js';
export { InvalidOptionsError } from './invalid-options-error.js';
export { ExecutionRejectedError, InvalidValueError, ResilienceError } from './resilience-error.js';
