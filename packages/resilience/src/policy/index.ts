export type { Executable, ExecuteOptions, ExecutionContext, Policy } from './policy.js';
