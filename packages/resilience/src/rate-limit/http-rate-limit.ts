import { type Clock, systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import { RateLimitStoreError } from './rate-limit-errors.js';
import {
  isPolicyName,
  type RateLimitHeadersFormat,
  rateLimitHeaders,
  rateLimitHeadersFormats,
} from './rate-limit-headers.js';
import type { RateLimitDecision } from './rate-limit-store.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * The default body of a refused request: an RFC 9457 problem document of the problem type the
 * RateLimit header fields draft defines (`quota-exceeded`), sent as `application/problem+json`.
 */
export interface RateLimitProblem {
  readonly type: typeof quotaExceededType;
  readonly title: string;
  readonly status: 429;
  readonly detail: string;
  /** The policies whose quota is used up (the draft's extension member). */
  readonly 'violated-policies': readonly string[];
  /** Milliseconds until a request of the same cost would be admitted (`Retry-After` in ms). */
  readonly retryAfterMs: number;
}

/** A response to a refused request built by {@link HttpRateLimitOptions.limitedResponse}. */
export interface HttpRateLimitResponse {
  /** @defaultValue 429 */
  readonly status?: number;
  /** A string is sent as is; anything else as JSON. */
  readonly body: unknown;
  /**
   * @defaultValue `text/plain; charset=utf-8` for a string body, else `application/json; charset=utf-8`
   */
  readonly contentType?: string;
}

/** What {@link HttpRateLimitOptions.limitedResponse} is told about a refused request. */
export interface RateLimitRefusal<Request> {
  readonly request: Request;
  readonly decision: RateLimitDecision;
  /** The problem document Bulwark would send; reuse parts of it or ignore it. */
  readonly problem: RateLimitProblem;
}

/**
 * Options shared by the Fastify plugin (`@bulwark/resilience/fastify`) and the Express/Connect
 * middleware (`@bulwark/resilience/express`).
 */
export interface HttpRateLimitOptions<Request> {
  /** The limiter deciding each request. */
  readonly limiter: RateLimiter;
  /**
   * The key a request is counted under: an IP (see {@link ipKey}, which groups IPv6 addresses by
   * prefix), a user id, an API key. Return `undefined` to let the request through unlimited
   * (health checks, internal callers).
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
   * - `'reject'`: fail closed — answer `503 Service Unavailable` (a problem document) with
   *   `Retry-After: 1`.
   */
  readonly whenStoreDown: 'allow' | 'reject';
  /** Called for every request decided while the store is down (both modes), to log or count it. */
  readonly onStoreDown?: (error: RateLimitStoreError, request: Request) => void;
  /**
   * Which rate-limit header fields every limited response carries (not only 429s), or `false`
   * for none; see {@link RateLimitHeadersFormat}. `Retry-After` is sent on refusals either way.
   * @defaultValue 'draft-8' (the newest draft's `RateLimit` and `RateLimit-Policy`)
   */
  readonly headers?: RateLimitHeadersFormat | false;
  /**
   * The quota policy's name in `'draft-8'` headers and in the problem's `violated-policies`
   * (printable ASCII).
   * @defaultValue 'default'
   */
  readonly policy?: string;
  /**
   * Builds the answer to a request over the limit instead of the default `429` problem document
   * ({@link RateLimitProblem}). The rate-limit headers and `Retry-After` are set either way.
   */
  readonly limitedResponse?: (
    refusal: RateLimitRefusal<Request>,
  ) => HttpRateLimitResponse | Promise<HttpRateLimitResponse>;
  /** Source of time for the `'legacy'` `X-RateLimit-Reset` (a Unix time). @defaultValue systemClock */
  readonly clock?: Clock;
}

/** What the HTTP helpers do with one request: framework-neutral, the body already serialised. */
export type HttpRateLimitOutcome =
  | { readonly kind: 'pass'; readonly headers: ReadonlyArray<readonly [string, string]> }
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly headers: ReadonlyArray<readonly [string, string]>;
      readonly contentType: string;
      readonly body: string;
    };

/** The problem type of the RateLimit header fields draft for a used-up quota. */
const quotaExceededType = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
const problemContentType = 'application/problem+json';
const none: ReadonlyArray<readonly [string, string]> = [];

/**
 * Validates the shared options; used by both adapters at construction.
 *
 * @internal
 */
export function validateHttpRateLimitOptions<Request>(subject: string, options: HttpRateLimitOptions<Request>): void {
  const validator = new OptionsValidator(subject);
  if (!options?.limiter || typeof options.limiter.consume !== 'function')
    validator.report('limiter must be made by rateLimiter()');
  if (typeof options?.key !== 'function') validator.report('key must be a function of the request');
  if (options?.cost !== undefined && typeof options.cost !== 'function')
    validator.report('cost must be a function of the request');
  if (options?.whenStoreDown !== 'allow' && options?.whenStoreDown !== 'reject')
    validator.report("whenStoreDown must be 'allow' (fail open) or 'reject' (503): choose what a store outage does");
  const headers = options?.headers;
  if (headers !== undefined && headers !== false && !rateLimitHeadersFormats.includes(headers))
    validator.report(`headers must be false or one of ${rateLimitHeadersFormats.join(', ')}, got ${String(headers)}`);
  if (options?.policy !== undefined && !isPolicyName(options.policy))
    validator.report(`policy must be a non-empty printable ASCII string, got ${JSON.stringify(options.policy)}`);
  if (options?.limitedResponse !== undefined && typeof options.limitedResponse !== 'function')
    validator.report('limitedResponse must be a function of the refusal');
  validator.throwIfInvalid();
}

const seconds = (ms: number): number => Math.ceil(ms / 1000);

/** The body and content type of a response a user built. */
function serialise(response: HttpRateLimitResponse): { contentType: string; body: string } {
  if (typeof response.body === 'string')
    return { contentType: response.contentType ?? 'text/plain; charset=utf-8', body: response.body };
  return {
    contentType: response.contentType ?? 'application/json; charset=utf-8',
    body: JSON.stringify(response.body),
  };
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
      contentType: problemContentType,
      body: JSON.stringify({
        type: 'urn:bulwark:rate-limit:store-unavailable',
        title: 'Service Unavailable',
        status: 503,
        detail: 'Rate limiting is unavailable; retry shortly.',
      }),
    };
  }
  const format = options.headers ?? 'draft-8';
  const policy = options.policy ?? 'default';
  const headers =
    format === false
      ? []
      : rateLimitHeaders(format, {
          algorithm: options.limiter.algorithm,
          decision,
          policy,
          nowMs: (options.clock ?? systemClock).now(),
        });
  if (decision.allowed) return { kind: 'pass', headers };
  const retryAfter = seconds(decision.retryAfterMs);
  headers.push(['Retry-After', String(retryAfter)]);
  const problem: RateLimitProblem = {
    type: quotaExceededType,
    title: 'Too Many Requests',
    status: 429,
    detail: `Rate limit exceeded; retry in ${retryAfter} s.`,
    'violated-policies': [policy],
    retryAfterMs: decision.retryAfterMs,
  };
  if (options.limitedResponse === undefined)
    return { kind: 'respond', status: 429, headers, contentType: problemContentType, body: JSON.stringify(problem) };
  const custom = await options.limitedResponse({ request, decision, problem });
  return { kind: 'respond', status: custom.status ?? 429, headers, ...serialise(custom) };
}
