const digits = /^\d+$/;
// An HTTP date names its day and month (`Sun, 06 Dec 2026 12:00:00 GMT`); Date.parse alone would
// also take strings such as `-3` as a year.
const httpDate = /^[a-z]{3},? /i;
// `RateLimit: "default";r=0;t=10` (IETF httpapi ratelimit headers draft 08+) or the older
// `RateLimit: limit=10, remaining=0, reset=5`: the seconds until the quota is back.
const rateLimitReset = /(?:^|[;,\s])(?:t|reset)=(\d+)/;

/**
 * The delay a response asks for, in ms: `Retry-After` as seconds or as an HTTP date (relative to
 * `now`), else `RateLimit-Reset` seconds, else the reset of a `RateLimit` field; `undefined` when
 * none is present or readable.
 */
export function retryAfterFromHeaders(headers: Headers, now: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (digits.test(retryAfter)) return Number(retryAfter) * 1_000;
    const date = httpDate.test(retryAfter) ? Date.parse(retryAfter) : Number.NaN;
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset && digits.test(reset)) return Number(reset) * 1_000;
  const rateLimit = headers.get('ratelimit');
  if (rateLimit) {
    const match = rateLimitReset.exec(rateLimit);
    if (match) return Number(match[1]) * 1_000;
  }
  return undefined;
}
