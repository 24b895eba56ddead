import type { RateLimitAlgorithm } from './algorithms.js';
import type { RateLimitDecision } from './rate-limit-store.js';

/**
 * Which rate-limit header fields an HTTP response carries, after the IETF httpapi draft
 * "RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers) and the names
 * express-rate-limit uses for its versions:
 * - `'draft-8'`: `RateLimit-Policy: "<policy>";q=<limit>;w=<window s>` and
 *   `RateLimit: "<policy>";r=<remaining>;t=<reset s>` — Structured Field lists of items named by the
 *   policy. Draft 8 introduced this syntax and the later drafts kept it; it is the default.
 * - `'draft-7'`: `RateLimit-Policy: <limit>;w=<window s>` and the dictionary
 *   `RateLimit: limit=<limit>, remaining=<remaining>, reset=<reset s>`.
 * - `'draft-6'`: `RateLimit-Policy: <limit>;w=<window s>` and the three fields `RateLimit-Limit`,
 *   `RateLimit-Remaining`, `RateLimit-Reset` (seconds).
 * - `'legacy'`: `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix time in
 *   seconds, as GitHub and Twitter send it).
 *
 * What the reset value means for each algorithm is in {@link rateLimitHeaders}.
 */
export type RateLimitHeadersFormat = 'draft-6' | 'draft-7' | 'draft-8' | 'legacy';

/** The formats {@link RateLimitHeadersFormat} accepts, newest draft first. */
export const rateLimitHeadersFormats: readonly RateLimitHeadersFormat[] = ['draft-8', 'draft-7', 'draft-6', 'legacy'];

/** What {@link rateLimitHeaders} writes headers about. */
export interface RateLimitHeadersInput {
  /** The limiter's algorithm: its `limit` is the quota, its window (or refill time) the policy window. */
  readonly algorithm: RateLimitAlgorithm;
  /** The decision of this request. */
  readonly decision: RateLimitDecision;
  /** The quota policy's name in the `'draft-8'` fields, a printable ASCII string. */
  readonly policy: string;
  /** Milliseconds since the Unix epoch now (for the `'legacy'` reset, an absolute time). */
  readonly nowMs: number;
}

const seconds = (ms: number): number => Math.ceil(ms / 1000);

/**
 * The policy window in seconds: the window of {@link fixedWindow} and {@link slidingWindow}; for
 * {@link tokenBucket} and {@link gcra}, the time an empty bucket takes to refill to `limit`.
 */
export function policyWindowSeconds(algorithm: RateLimitAlgorithm): number {
  const windowUs = algorithm.kind === 'gcra' ? algorithm.limit * algorithm.intervalUs : algorithm.windowUs;
  return Math.max(1, Math.ceil(windowUs / 1_000_000));
}

/** A Structured Field String (RFC 9651 §3.3.3): quotes and backslashes escaped. */
const structuredString = (value: string): string => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** True when `name` can be a Structured Field String (printable ASCII). */
export const isPolicyName = (name: unknown): name is string =>
  typeof name === 'string' && name.length > 0 && /^[\x20-\x7e]+$/.test(name);

/**
 * The rate-limit header fields of one response in `format`; one builder for the Express and the
 * Fastify adapters. `Retry-After` is not among them (the adapters add it to refusals).
 *
 * The reset value (`t`, `reset`, `RateLimit-Reset`, `X-RateLimit-Reset`) is when the key has its
 * whole `limit` again, `decision.resetMs`, rounded up to seconds. It is not when the next request
 * is admitted (that is `Retry-After` on a 429), and for each algorithm it means:
 * - `fixedWindow`: the end of the current window, at most the window;
 * - `slidingWindow`: the end of the *next* fixed window when this one has counted anything, so up
 *   to twice the window: units counted now keep a weight in the sliding window until the next
 *   window has fully passed. A 60 s window 53 s into its fixed window answers reset 67
 *   (7 + 60) while `Retry-After` may be 19: a unit is free again long before all are;
 * - `tokenBucket` / `gcra`: the time to refill the bucket to `limit`, at most the policy window.
 */
export function rateLimitHeaders(
  format: RateLimitHeadersFormat,
  input: RateLimitHeadersInput,
): Array<readonly [string, string]> {
  const { algorithm, decision } = input;
  const limit = String(algorithm.limit);
  const remaining = String(decision.remaining);
  const reset = seconds(decision.resetMs);
  const window = policyWindowSeconds(algorithm);
  switch (format) {
    case 'draft-8': {
      const policy = structuredString(input.policy);
      return [
        ['RateLimit-Policy', `${policy};q=${limit};w=${window}`],
        ['RateLimit', `${policy};r=${remaining};t=${reset}`],
      ];
    }
    case 'draft-7':
      return [
        ['RateLimit-Policy', `${limit};w=${window}`],
        ['RateLimit', `limit=${limit}, remaining=${remaining}, reset=${reset}`],
      ];
    case 'draft-6':
      return [
        ['RateLimit-Policy', `${limit};w=${window}`],
        ['RateLimit-Limit', limit],
        ['RateLimit-Remaining', remaining],
        ['RateLimit-Reset', String(reset)],
      ];
    case 'legacy':
      return [
        ['X-RateLimit-Limit', limit],
        ['X-RateLimit-Remaining', remaining],
        ['X-RateLimit-Reset', String(seconds(input.nowMs + decision.resetMs))],
      ];
  }
}
