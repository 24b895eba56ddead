export type {
  Backoff,
  BackoffInput,
  BackoffOptions,
  ConstantBackoffOptions,
  ExponentialBackoffOptions,
  Jitter,
  LinearBackoffOptions,
} from './backoff.js';
export { backoffDefaults, constant, exponential, linear } from './backoff.js';
