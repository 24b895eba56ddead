import { InvalidOptionsError } from '../errors/resilience-error.js';
import { RateLimitStoreError } from './rate-limit-errors.js';
import type { RateLimitDecision } from './rate-limit-store.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * Options shared by the Fastify plugin (`@bulwark/resilience/fastify`) and the Express/Connect
 * middleware (`@bulwark/resilience/express`).
 */
export interface HttpRateLimitOptions<Request> {
  /** The limiter deciding each request. */
  readonly limiter: RateLimiter;
  /**
   * The key a request is counted under: an IP, a user id, an API key. Return `undefined` to let the
   * request through unlimited (health checks, internal callers).
   */
  readonly key: (request: Request) => string | undefined | Promise<string | undefined>;
  /**
   * Units the request takes (e.g. more for expensive endpoints).
   * @defaultValue 1 for every request
   */
  readonly cost?: (request: Request) => number;
  /**
   * What happens when the store is down or too slow (a `RateLimitStoreError`); there is no
   * default, the choice must be explicit:
   * - `'allow'`: fail open — the request goes through unlimited and `onStoreDown` is called;
   * - `'reject'`: fail closed — answer `503 Service Unavailable` with `Retry-After: 1`.
   */
  readonly whenStoreDown: 'allow' | 'reject';
  /** Called for every request decided while the store is down (both modes), to log or count it. */
  readonly onStoreDown?: (error: RateLimitStoreError, request: Request) => void;
  /**
   * Send `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (IETF httpapi
   * RateLimit header fields draft) on every limited response, not only on 429s.
   * @defaultValue true
   */
  readonly headers?: boolean;
}

/** What the HTTP helpers do with one request. */
export type HttpRateLimitOutcome =
  | { readonly kind: 'pass'; readonly headers: ReadonlyArray<readonly [string, string]> }
  | {
      readonly kind: 'respond';
      readonly status: 429 | 503;
      readonly headers: ReadonlyArray<readonly [string, string]>;
      readonly body: { readonly error: string; readonly message: string; readonly retryAfterMs?: number };
    };

const none: ReadonlyArray<readonly [string, string]> = [];

/**
 * Validates the shared options; used by both adapters at construction.
 *
 * @internal
 */
export function validateHttpRateLimitOptions<Request>(subject: string, options: HttpRateLimitOptions<Request>): void {
  const problems: string[] = [];
  if (!options?.limiter || typeof options.limiter.consume !== 'function')
    problems.push('limiter must be made by rateLimiter()');
  if (typeof options?.key !== 'function') problems.push('key must be a function of the request');
  if (options?.cost !== undefined && typeof options.cost !== 'function')
    problems.push('cost must be a function of the request');
  if (options?.whenStoreDown !== 'allow' && options?.whenStoreDown !== 'reject')
    problems.push("whenStoreDown must be 'allow' (fail open) or 'reject' (503): choose what a store outage does");
  if (problems.length > 0) throw new InvalidOptionsError(subject, problems);
}

const seconds = (ms: number): string => String(Math.ceil(ms / 1000));

function rateLimitHeaders(limit: number, decision: RateLimitDecision): Array<readonly [string, string]> {
  return [
    ['RateLimit-Limit', String(limit)],
    ['RateLimit-Remaining', String(decision.remaining)],
    ['RateLimit-Reset', seconds(decision.resetMs)],
  ];
}

/** Decides one request: pass (with headers to add) or respond 429/503. Framework-neutral. */
export async function decideHttpRequest<Request>(
  options: HttpRateLimitOptions<Request>,
  request: Request,
  signal?: AbortSignal,
): Promise<HttpRateLimitOutcome> {
  const key = await options.key(request);
  if (key === undefined) return { kind: 'pass', headers: none };
  const cost = options.cost ? options.cost(request) : 1;
  let decision: RateLimitDecision;
  try {
    decision = await options.limiter.consume(key, signal ? { cost, signal } : { cost });
  } catch (error) {
    if (!(error instanceof RateLimitStoreError)) throw error;
    options.onStoreDown?.(error, request);
    if (options.whenStoreDown === 'allow') return { kind: 'pass', headers: none };
    return {
      kind: 'respond',
      status: 503,
      headers: [['Retry-After', '1']],
      body: { error: 'Service Unavailable', message: 'Rate limiting is unavailable; retry shortly.' },
    };
  }
  const headers = options.headers === false ? [] : rateLimitHeaders(options.limiter.algorithm.limit, decision);
  if (decision.allowed) return { kind: 'pass', headers };
  headers.push(['Retry-After', seconds(decision.retryAfterMs)]);
  return {
    kind: 'respond',
    status: 429,
    headers,
    body: {
      error: 'Too Many Requests',
      message: `Rate limit exceeded; retry in ${seconds(decision.retryAfterMs)} s.`,
      retryAfterMs: decision.retryAfterMs,
    },
  };
}
