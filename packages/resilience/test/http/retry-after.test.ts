import { isNetworkError, retryAfterFromHeaders } from '@bulwark/resilience/http';
import { describe, expect, it } from 'vitest';

const now = Date.UTC(2026, 11, 6, 12, 0, 0);

describe('retryAfterFromHeaders', () => {
  it.each([
    [{ 'retry-after': '5' }, 5_000],
    [{ 'retry-after': ' 0 ' }, 0],
    [{ 'retry-after': new Date(now + 90_000).toUTCString() }, 90_000],
    // A date already past asks for no wait at all, never a negative one.
    [{ 'retry-after': new Date(now - 90_000).toUTCString() }, 0],
    [{ 'ratelimit-reset': '7' }, 7_000],
    [{ ratelimit: '"default";r=0;t=12' }, 12_000],
    [{ ratelimit: 'limit=10, remaining=0, reset=3' }, 3_000],
    // Retry-After wins over the RateLimit fields.
    [{ 'retry-after': '1', 'ratelimit-reset': '9' }, 1_000],
  ])('reads %j as %i ms', (headers, expected) => {
    expect(retryAfterFromHeaders(new Headers(headers), now)).toBe(expected);
  });

  it.each([[{}], [{ 'retry-after': 'soon' }], [{ 'retry-after': '-3' }], [{ 'ratelimit-reset': 'x' }]])(
    'gives undefined for %j',
    (headers) => {
      expect(retryAfterFromHeaders(new Headers(headers), now)).toBeUndefined();
    },
  );
});

describe('isNetworkError', () => {
  it('recognises fetch failures and socket error codes in the cause chain', () => {
    expect(isNetworkError(new TypeError('fetch failed'))).toBe(true);
    expect(isNetworkError(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }))).toBe(
      true,
    );
    expect(isNetworkError(new TypeError('Invalid URL'))).toBe(false);
    expect(isNetworkError(new Error('boom'))).toBe(false);
    expect(isNetworkError(undefined)).toBe(false);
  });
});
