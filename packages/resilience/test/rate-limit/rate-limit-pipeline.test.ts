import {
  fixedWindow,
  memoryRateLimitStore,
  pipeline,
  RateLimitedError,
  rateLimit,
  rateLimiter,
  retry,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

describe('rateLimit inside a pipeline', () => {
  it('retry waits exactly the RateLimitedError retryAfterMs, then the call is admitted', async () => {
    const clock = manualClock(1_700_000_000_000);
    const limiter = rateLimiter({
      algorithm: fixedWindow({ limit: 1, windowMs: 1_000 }),
      store: memoryRateLimitStore({ clock }),
      clock,
    });
    const retried: number[] = [];
    const policy = pipeline(
      retry({ maxAttempts: 2, clock, retryOn: (error) => error instanceof RateLimitedError }),
      rateLimit(limiter, { key: 'partner' }),
    );
    expect(await policy.execute(async () => 'first')).toBe('first');
    const second = policy.execute(async () => {
      retried.push(clock.now());
      return 'second';
    });
    await clock.advanceAsync(999);
    expect(retried).toEqual([]);
    await clock.advanceAsync(1);
    expect(await second).toBe('second');
    expect(retried).toEqual([1_700_000_001_000]);
  });
});
