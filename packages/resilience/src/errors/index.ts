export { ExecutionRejectedError, InvalidOptionsError, InvalidValueError, ResilienceError } from './resilience-error.js';
