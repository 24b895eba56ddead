/**
 * Resilient HTTP calls: `resilientFetch(options)` wraps `fetch` in the standard pipeline (rate
 * limiter → total timeout → retry → circuit breaker per origin → attempt timeout, optional
 * hedging), reading outcomes and `Retry-After` from responses.
 *
 * @module @bulwark/resilience/http
 */

export { HttpStatusError, RequestBodyNotReplayableError } from './http-errors.js';
export type {
  HttpEndpointSnapshot,
  ResilientFetch,
  ResilientFetchSnapshot,
  ResilientHttpControls,
} from './resilient-fetch.js';
export { resilientFetch } from './resilient-fetch.js';
export type {
  HttpCircuitStateChangeEvent,
  HttpGiveUpEvent,
  HttpHedgeEvent,
  HttpRetryEvent,
  ResilientFetchEvents,
} from './resilient-fetch-events.js';
export type {
  FetchFunction,
  HttpCircuitBreakerSettings,
  HttpHedgeSettings,
  HttpRateLimitSettings,
  HttpRequestInfo,
  HttpRetrySettings,
  ResilientFetchOptions,
} from './resilient-fetch-options.js';
export { isNetworkError, resilientFetchDefaults } from './resilient-fetch-options.js';
export { retryAfterFromHeaders } from './retry-after.js';
