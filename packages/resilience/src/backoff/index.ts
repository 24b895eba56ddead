export type {
  Backoff,
  BackoffInput,
  BackoffOptions,
  ConstantBackoffOptions,
  ExponentialBackoffOptions,
  Jitter,
  LinearBackoffOptions,
} from './backoff.js';
export { BACKOFF_DEFAULTS, constant, exponential, linear } from './backoff.js';
