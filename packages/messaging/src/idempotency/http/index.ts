export type {
  HttpIdempotencyDecision,
  HttpIdempotencyOptions,
  HttpIdempotencyProblem,
  HttpIdempotencyRequest,
  HttpIdempotentResponse,
} from './http-idempotency.js';
export { httpIdempotency, httpIdempotencyDefaults, IDEMPOTENT_REPLAYED_HEADER } from './http-idempotency.js';
export type { IdempotencyKeyParse } from './idempotency-key-header.js';
export { parseIdempotencyKey } from './idempotency-key-header.js';
