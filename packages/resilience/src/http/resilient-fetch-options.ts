import type { Backoff } from '../backoff/backoff.js';
import { exponential } from '../backoff/backoff.js';
import type { BreakerStrategy } from '../circuit-breaker/breaker-strategy.js';
import { failureRate } from '../circuit-breaker/breaker-strategy.js';
import type { CircuitStateStore } from '../circuit-breaker/circuit-state-store.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import type { RateLimiter } from '../rate-limit/rate-limiter.js';
import type { RetryBudget } from '../retry/retry-budget.js';

/** A function with the signature of the global `fetch`. */
export type FetchFunction = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** What the per-request callbacks of {@link ResilientFetchOptions} are told about a request. */
export interface HttpRequestInfo {
  /** The method, upper case. */
  readonly method: string;
  /** The URL the request (or this attempt) goes to. */
  readonly url: URL;
}

/** The rate limiter step (outermost): a request over the limit fails with `RateLimitedError` before it is sent. */
export interface HttpRateLimitSettings {
  /** The limiter (`rateLimiter({ algorithm, store })`). */
  readonly limiter: RateLimiter;
  /** The key a request counts under. @defaultValue the request's origin */
  readonly key?: (request: HttpRequestInfo) => string;
  /** Send the request anyway when the limiter's store fails. @defaultValue `false` */
  readonly failOpen?: boolean;
}

/** The retry step. */
export interface HttpRetrySettings {
  /** Attempts in all, the first included. @defaultValue `3` */
  readonly maxAttempts?: number;
  /** Delay between attempts when the response names none. @defaultValue `exponential({ initialMs: 200, maxMs: 10_000, jitter: 'full' })` */
  readonly backoff?: Backoff;
  /**
   * Methods retried as they are. POST and PATCH (and any method not listed) are retried only when
   * the request carries an `Idempotency-Key` header.
   * @defaultValue `['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']`
   */
  readonly methods?: readonly string[];
  /** Limits retries to a fraction of recent calls (`retryBudget()`). */
  readonly budget?: RetryBudget;
}

/** The circuit breaker step: one breaker per origin (or route, or any key). */
export interface HttpCircuitBreakerSettings {
  /**
   * Which requests share a breaker: `origin` (scheme, host, port), `route` (origin and path,
   * without the query), or a function returning a key. Keep the set of keys bounded: a breaker is
   * kept per key.
   * @defaultValue `'origin'`
   */
  readonly key?: 'origin' | 'route' | ((request: HttpRequestInfo) => string);
  /** @defaultValue `failureRate({ threshold: 0.1, minimumCalls: 100, window: { kind: 'time', ms: 30_000 } })` */
  readonly strategy?: BreakerStrategy;
  /** @defaultValue `5_000` */
  readonly halfOpenAfter?: number | Backoff;
  /** @defaultValue `1` */
  readonly halfOpenMaxCalls?: number;
  /** Shares each breaker's state between processes; the breaker of key `k` is named `http:k`. */
  readonly store?: CircuitStateStore;
}

/** The optional hedging step (between retry and breaker): idempotent requests only. */
export interface HttpHedgeSettings {
  /** How long an attempt may run before another starts. */
  readonly hedgeDelayMs: number;
  /** Hedged attempts beyond the first. @defaultValue `1` */
  readonly maxHedgedAttempts?: number;
}

/**
 * Options of {@link resilientFetch}. Each step of the standard pipeline — rate limiter → total
 * timeout → retry → (hedge) → circuit breaker per origin → attempt timeout — is set by its own
 * option and removed with `false`.
 */
export interface ResilientFetchOptions {
  /** The `fetch` to call (undici's, a mock, one with a dispatcher bound). @defaultValue `globalThis.fetch` */
  readonly fetch?: FetchFunction;
  /** @defaultValue none (`false`) */
  readonly rateLimit?: HttpRateLimitSettings | false;
  /**
   * Bounds a call from the first attempt until the response's headers, waits included. No retry
   * is scheduled whose delay would end after it (a `Retry-After` too long ends the call at once
   * with the last response).
   * @defaultValue `30_000`
   */
  readonly totalTimeoutMs?: number | false;
  /** @defaultValue `{ maxAttempts: 3 }` */
  readonly retry?: HttpRetrySettings | false;
  /** @defaultValue one breaker per origin with the defaults of {@link HttpCircuitBreakerSettings} */
  readonly circuitBreaker?: HttpCircuitBreakerSettings | false;
  /** Bounds each attempt until its response's headers. @defaultValue `10_000` */
  readonly attemptTimeoutMs?: number | false;
  /** @defaultValue none (`false`) */
  readonly hedge?: HttpHedgeSettings | false;
  /** Which statuses are transient (retried, counted by the breaker). @defaultValue 408, 429 and 500–599 */
  readonly transientStatus?: (status: number) => boolean;
  /**
   * Which thrown errors are transient. @defaultValue network failures (`TypeError: fetch failed`,
   * `ECONNRESET`, `ECONNREFUSED`, …) and the attempt timeout
   */
  readonly transientError?: (error: unknown) => boolean;
  /**
   * Adds an `Idempotency-Key` header to POST and PATCH requests without one, so they can be
   * retried: `true` for a random UUID, or a function making the key.
   * @defaultValue `false`
   */
  readonly idempotencyKey?: boolean | (() => string);
  /**
   * Sends attempt `n` to another URL (another upstream, a mirror): called for every attempt,
   * hedged ones included, with `attempt` counted across both.
   */
  readonly endpoint?: (request: HttpRequestInfo & { readonly attempt: number }) => string | URL;
  /** Streamed request bodies are buffered up to this size to be replayable. @defaultValue `1_048_576` */
  readonly maxBufferedBodyBytes?: number;
  /**
   * What a call whose last attempt got a transient status gives: `return` the response (like
   * `fetch`), or `throw` an {@link HttpStatusError}.
   * @defaultValue `'return'`
   */
  readonly statusErrors?: 'return' | 'throw';
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
  /** Uniform numbers in [0, 1) for jitter. @defaultValue `Math.random` */
  readonly random?: () => number;
}

const networkErrorCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** Whether `error` is a network failure: undici's `TypeError: fetch failed`, or a socket error code in the chain. */
export function isNetworkError(error: unknown): boolean {
  if (error instanceof TypeError && error.message === 'fetch failed') return true;
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    if (networkErrorCodes.has(codeOf(current) as string)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Defaults of {@link ResilientFetchOptions}. */
export const resilientFetchDefaults = {
  totalTimeoutMs: 30_000,
  attemptTimeoutMs: 10_000,
  maxAttempts: 3,
  backoff: exponential({ initialMs: 200, maxMs: 10_000, jitter: 'full' }),
  methods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'],
  strategy: failureRate({ threshold: 0.1, minimumCalls: 100, window: { kind: 'time', ms: 30_000 } }),
  halfOpenAfter: 5_000,
  maxBufferedBodyBytes: 1_048_576,
  statusErrors: 'return',
  transientStatus: (status: number) => status === 408 || status === 429 || (status >= 500 && status <= 599),
  clock: systemClock,
  random: Math.random,
} as const;

/** Checks {@link resilientFetch} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateResilientFetchOptions(options: ResilientFetchOptions): void {
  const validator = new OptionsValidator('resilientFetch');
  validator.function('fetch', options.fetch);
  validator.check(
    options.fetch !== undefined || typeof globalThis.fetch === 'function',
    'fetch is required where globalThis.fetch does not exist',
  );
  const timeout = (name: 'totalTimeoutMs' | 'attemptTimeoutMs') => {
    if (options[name] !== false) validator.number(name, options[name], { min: 1 });
  };
  timeout('totalTimeoutMs');
  timeout('attemptTimeoutMs');
  if (options.rateLimit) {
    validator.check(
      typeof options.rateLimit.limiter?.consume === 'function',
      'rateLimit.limiter must be made by rateLimiter()',
    );
    validator.function('rateLimit.key', options.rateLimit.key);
  }
  if (options.retry) {
    validator.number('retry.maxAttempts', options.retry.maxAttempts, { min: 1, integer: true });
    validator.check(
      options.retry.methods === undefined ||
        (Array.isArray(options.retry.methods) && options.retry.methods.every((method) => typeof method === 'string')),
      'retry.methods must be an array of method names',
    );
  }
  if (options.circuitBreaker) {
    const key = options.circuitBreaker.key;
    validator.check(
      key === undefined || key === 'origin' || key === 'route' || typeof key === 'function',
      `circuitBreaker.key must be 'origin', 'route' or a function, got ${String(key)}`,
    );
  }
  if (options.hedge) {
    validator.number('hedge.hedgeDelayMs', options.hedge.hedgeDelayMs, { optional: false });
    validator.number('hedge.maxHedgedAttempts', options.hedge.maxHedgedAttempts, { min: 1, integer: true });
  }
  validator.function('transientStatus', options.transientStatus);
  validator.function('transientError', options.transientError);
  validator.function('endpoint', options.endpoint);
  validator.check(
    options.idempotencyKey === undefined ||
      typeof options.idempotencyKey === 'boolean' ||
      typeof options.idempotencyKey === 'function',
    'idempotencyKey must be a boolean or a function returning a key',
  );
  validator.number('maxBufferedBodyBytes', options.maxBufferedBodyBytes, { integer: true });
  validator.check(
    options.statusErrors === undefined || options.statusErrors === 'return' || options.statusErrors === 'throw',
    `statusErrors must be 'return' or 'throw', got ${String(options.statusErrors)}`,
  );
  validator.function('random', options.random);
  validator.throwIfInvalid();
}
