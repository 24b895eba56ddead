export { ExecutionRejectedError, InvalidOptionsError, ResilienceError } from './resilience-error.js';
