export { OptionsValidator } from './options.js';
export type { Executable, ExecuteOptions, ExecutionContext, Policy } from './policy.js';
