export type {
  FixedWindowAlgorithm,
  GcraAlgorithm,
  GcraOptions,
  RateLimitAlgorithm,
  SlidingWindowAlgorithm,
  TokenBucketOptions,
  WindowOptions,
} from './algorithms.js';
export { fixedWindow, gcra, slidingWindow, tokenBucket } from './algorithms.js';
export type {
  HttpRateLimitOptions,
  HttpRateLimitOutcome,
  HttpRateLimitResponse,
  RateLimitProblem,
  RateLimitRefusal,
} from './http-rate-limit.js';
export { decideHttpRequest, validateHttpRateLimitOptions } from './http-rate-limit.js';
export type { IpKeyOptions } from './ip-key.js';
export { ipKey, ipKeyDefaults } from './ip-key.js';
export type { MemoryRateLimitStore, MemoryRateLimitStoreOptions } from './memory-rate-limit-store.js';
export { memoryRateLimitStore } from './memory-rate-limit-store.js';
export type { RateLimitStoreErrorCode } from './rate-limit-errors.js';
export { RateLimitedError, RateLimitStoreError } from './rate-limit-errors.js';
export type { RateLimitHeadersFormat, RateLimitHeadersInput } from './rate-limit-headers.js';
export { policyWindowSeconds, rateLimitHeaders, rateLimitHeadersFormats } from './rate-limit-headers.js';
export type { RateLimitPolicyOptions } from './rate-limit-policy.js';
export { rateLimit } from './rate-limit-policy.js';
export type { RateLimitDecision, RateLimitStore, RateLimitStoreCallOptions } from './rate-limit-store.js';
export type { ConsumeOptions, RateLimiter, RateLimiterEvents } from './rate-limiter.js';
export { rateLimiter } from './rate-limiter.js';
export type { RateLimiterOptions } from './rate-limiter-options.js';
export { rateLimiterDefaults } from './rate-limiter-options.js';
