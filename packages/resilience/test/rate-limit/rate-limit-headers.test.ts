import {
  fixedWindow,
  gcra,
  policyWindowSeconds,
  type RateLimitDecision,
  rateLimiter,
  rateLimitHeaders,
  slidingWindow,
  tokenBucket,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

const decision: RateLimitDecision = { allowed: true, remaining: 7, retryAfterMs: 0, resetMs: 41_200 };
const input = { algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }), decision, policy: 'api', nowMs: 1_000_000 };

describe('rateLimitHeaders', () => {
  it("'draft-8': RateLimit-Policy and RateLimit as Structured Field lists named by the policy", () => {
    expect(rateLimitHeaders('draft-8', input)).toEqual([
      ['RateLimit-Policy', '"api";q=10;w=60'],
      ['RateLimit', '"api";r=7;t=42'],
    ]);
  });

  it("'draft-8' escapes quotes and backslashes in the policy name", () => {
    const [policy] = rateLimitHeaders('draft-8', { ...input, policy: 'a"b\\c' });
    expect(policy).toEqual(['RateLimit-Policy', '"a\\"b\\\\c";q=10;w=60']);
  });

  it("'draft-7': an item policy and the RateLimit dictionary", () => {
    expect(rateLimitHeaders('draft-7', input)).toEqual([
      ['RateLimit-Policy', '10;w=60'],
      ['RateLimit', 'limit=10, remaining=7, reset=42'],
    ]);
  });

  it("'draft-6': the policy and the three RateLimit-* fields", () => {
    expect(rateLimitHeaders('draft-6', input)).toEqual([
      ['RateLimit-Policy', '10;w=60'],
      ['RateLimit-Limit', '10'],
      ['RateLimit-Remaining', '7'],
      ['RateLimit-Reset', '42'],
    ]);
  });

  it("'legacy': X-RateLimit-* with the reset as a Unix time in seconds", () => {
    expect(rateLimitHeaders('legacy', input)).toEqual([
      ['X-RateLimit-Limit', '10'],
      ['X-RateLimit-Remaining', '7'],
      ['X-RateLimit-Reset', String(Math.ceil((1_000_000 + 41_200) / 1000))],
    ]);
  });

  it('the policy window is the window, or the time a token bucket takes to refill', () => {
    expect(policyWindowSeconds(slidingWindow({ limit: 5, windowMs: 90_000 }))).toBe(90);
    expect(policyWindowSeconds(tokenBucket({ capacity: 20, refillPerSecond: 5 }))).toBe(4);
    expect(policyWindowSeconds(gcra({ rate: 10, periodMs: 60_000, burst: 5 }))).toBe(30);
    expect(policyWindowSeconds(fixedWindow({ limit: 1, windowMs: 10 }))).toBe(1);
  });

  it('sliding window: reset 67 with Retry-After 19 is "all quota back" vs "one unit back"', async () => {
    // The case from issue 16: 60 s sliding window, 53 s into a fixed window that counted units.
    const windowStart = 60_000 * 28_333_334; // epoch-aligned, as the windows are
    const clock = manualClock(windowStart);
    const limiter = rateLimiter({ algorithm: slidingWindow({ limit: 5, windowMs: 60_000 }), clock });
    for (let index = 0; index < 5; index++) expect((await limiter.consume('k')).allowed).toBe(true);
    clock.advance(53_000);
    const refused = await limiter.consume('k');
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 19_000, resetMs: 67_000 });
    const [, rateLimit] = rateLimitHeaders('draft-8', { ...input, algorithm: limiter.algorithm, decision: refused });
    expect(rateLimit).toEqual(['RateLimit', '"api";r=0;t=67']);
    // One unit is admitted at Retry-After …
    clock.advance(18_999);
    expect((await limiter.peek('k')).allowed).toBe(false);
    clock.advance(1);
    expect((await limiter.peek('k')).allowed).toBe(true);
    // … and the whole limit is back at reset (67 s after the refusal), not before.
    clock.advance(67_000 - 19_000 - 1);
    expect((await limiter.peek('k')).remaining).toBeLessThan(5);
    clock.advance(1);
    expect((await limiter.peek('k')).remaining).toBe(5);
  });
});
