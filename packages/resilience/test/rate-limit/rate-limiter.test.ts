import {
  fixedWindow,
  gcra,
  InvalidOptionsError,
  memoryRateLimitStore,
  RateLimitedError,
  type RateLimitStore,
  RateLimitStoreError,
  rateLimit,
  rateLimiter,
  slidingWindow,
  tokenBucket,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import { downStore } from './http-rate-limit-scenario.js';

const setup = (algorithm: Parameters<typeof rateLimiter>[0]['algorithm']) => {
  const clock = manualClock(1_700_000_000_000);
  const store = memoryRateLimitStore({ clock });
  const limiter = rateLimiter({ algorithm, store, clock });
  return { clock, store, limiter };
};

describe('algorithm factories', () => {
  it('report every problem at once', () => {
    expect(() => tokenBucket({ capacity: 0, refillPerSecond: -1 })).toThrowError(InvalidOptionsError);
    try {
      tokenBucket({ capacity: 0, refillPerSecond: -1 });
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(2);
    }
    expect(() => gcra({ rate: 0 })).toThrowError(/rate must be a positive number/);
    expect(() => fixedWindow({ limit: -5, windowMs: 1000 })).toThrowError(/limit must be an integer/);
    expect(() => slidingWindow({ limit: 5, windowMs: 0 })).toThrowError(/windowMs must be an integer/);
    expect(() => fixedWindow({ limit: 1.5, windowMs: 10 })).toThrowError(InvalidOptionsError);
  });

  it('normalise to microseconds', () => {
    expect(tokenBucket({ capacity: 10, refillPerSecond: 4 })).toEqual({
      kind: 'gcra',
      label: 'tokenBucket',
      limit: 10,
      intervalUs: 250_000,
    });
    expect(gcra({ rate: 100, periodMs: 60_000, burst: 5 }).intervalUs).toBe(600_000);
    expect(gcra({ rate: 3 }).limit).toBe(3);
    expect(slidingWindow({ limit: 3, windowMs: 500 }).windowUs).toBe(500_000);
  });
});

describe('rateLimiter input checks', () => {
  it('rejects bad options at construction', () => {
    expect(() => rateLimiter({ algorithm: { kind: 'nope' } as never })).toThrowError(InvalidOptionsError);
    expect(() => rateLimiter({ algorithm: gcra({ rate: 1 }), timeoutMs: 0 })).toThrowError(/timeoutMs/);
  });

  it('rejects an empty key and a cost outside 1..limit at call time', async () => {
    const { limiter } = setup(fixedWindow({ limit: 5, windowMs: 1000 }));
    await expect(limiter.consume('')).rejects.toThrowError(/key must be a non-empty string/);
    await expect(limiter.consume('k', { cost: 6 })).rejects.toThrowError(
      /cost must be an integer from 1 to the limit 5/,
    );
    await expect(limiter.consume('k', { cost: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(limiter.consume('k', { cost: 1.5 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(limiter.peek('')).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});

describe('gcra / token bucket on the memory store', () => {
  it('admits the burst, then one unit per interval, with exact retry and reset times', async () => {
    const { clock, limiter } = setup(tokenBucket({ capacity: 3, refillPerSecond: 10 }));
    expect(await limiter.consume('a')).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0, resetMs: 100 });
    expect(await limiter.consume('a')).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 200 });
    expect(await limiter.consume('a')).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetMs: 300 });
    expect(await limiter.consume('a')).toEqual({ allowed: false, remaining: 0, retryAfterMs: 100, resetMs: 300 });
    clock.advance(99);
    expect((await limiter.consume('a')).allowed).toBe(false);
    clock.advance(1);
    expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 0 });
    clock.advance(1_000);
    expect(await limiter.peek('a')).toEqual({ allowed: true, remaining: 3, retryAfterMs: 0, resetMs: 0 });
  });

  it('takes cost > 1 and says how long until that cost fits', async () => {
    const { clock, limiter } = setup(gcra({ rate: 2, burst: 4 }));
    expect(await limiter.consume('a', { cost: 3 })).toMatchObject({ allowed: true, remaining: 1 });
    expect(await limiter.consume('a', { cost: 3 })).toMatchObject({ allowed: false, remaining: 1, retryAfterMs: 1000 });
    clock.advance(1000);
    expect(await limiter.consume('a', { cost: 3 })).toMatchObject({ allowed: true, remaining: 0 });
  });
});

describe('fixed window on the memory store', () => {
  it('counts per epoch-aligned window', async () => {
    const { clock, limiter } = setup(fixedWindow({ limit: 2, windowMs: 1000 }));
    clock.set(1_700_000_000_250);
    expect(await limiter.consume('a')).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 750 });
    expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 0 });
    expect(await limiter.consume('a')).toEqual({ allowed: false, remaining: 0, retryAfterMs: 750, resetMs: 750 });
    clock.advance(750);
    expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 1, resetMs: 1000 });
  });
});

describe('sliding window on the memory store', () => {
  it('weights the previous window by its overlap', async () => {
    const { clock, limiter } = setup(slidingWindow({ limit: 4, windowMs: 1000 }));
    for (let index = 0; index < 4; index++) expect((await limiter.consume('a')).allowed).toBe(true);
    const refused = await limiter.consume('a');
    expect(refused.allowed).toBe(false);
    // All 4 are in the current window: they become the previous window in 1 s, and weigh 4 * 3/4
    // = 3 units 250 ms into it, leaving room for 1.
    expect(refused.retryAfterMs).toBe(1250);
    clock.advance(1249);
    expect((await limiter.consume('a')).allowed).toBe(false);
    clock.advance(1);
    expect(await limiter.consume('a')).toMatchObject({ allowed: true, remaining: 0 });
    clock.advance(2000);
    expect(await limiter.peek('a')).toEqual({ allowed: true, remaining: 4, retryAfterMs: 0, resetMs: 0 });
  });
});

describe('key isolation, reset, peek', () => {
  it('keeps keys apart and reset restores the full limit', async () => {
    const { limiter } = setup(fixedWindow({ limit: 1, windowMs: 60_000 }));
    expect((await limiter.consume('a')).allowed).toBe(true);
    expect((await limiter.consume('a')).allowed).toBe(false);
    expect((await limiter.consume('b')).allowed).toBe(true);
    expect(await limiter.peek('a')).toMatchObject({ allowed: false, remaining: 0 });
    await limiter.reset('a');
    expect(await limiter.peek('a')).toMatchObject({ allowed: true, remaining: 1 });
    expect((await limiter.consume('a')).allowed).toBe(true);
  });

  it('prefixes keys with the limiter name so limiters can share a store', async () => {
    const clock = manualClock(0);
    const store = memoryRateLimitStore({ clock });
    const login = rateLimiter({ name: 'login', algorithm: fixedWindow({ limit: 1, windowMs: 1000 }), store });
    const search = rateLimiter({ name: 'search', algorithm: fixedWindow({ limit: 1, windowMs: 1000 }), store });
    expect((await login.consume('u1')).allowed).toBe(true);
    expect((await search.consume('u1')).allowed).toBe(true);
    expect(store.size()).toBe(2);
  });
});

describe('memory store bounds', () => {
  it('sweeps idle keys on its unref-able clock timer and stops the timer when empty', async () => {
    const clock = manualClock(0);
    const store = memoryRateLimitStore({ clock, sweepIntervalMs: 1000 });
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 5, refillPerSecond: 10 }), store, clock });
    for (let index = 0; index < 50; index++) await limiter.consume(`k${index}`);
    expect(store.size()).toBe(50);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(1000);
    expect(store.size()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('never holds more than maxKeys', async () => {
    const clock = manualClock(0);
    const store = memoryRateLimitStore({ clock, maxKeys: 10 });
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), store, clock });
    for (let index = 0; index < 1000; index++) await limiter.consume(`k${index}`);
    expect(store.size()).toBe(10);
    await store.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps busy keys when evicting: a key in use survives a flood of one-off keys', async () => {
    const clock = manualClock(0);
    const store = memoryRateLimitStore({ clock, maxKeys: 100 });
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), store, clock });
    await limiter.consume('busy', { cost: 5 });
    for (let index = 0; index < 1000; index++) {
      await limiter.consume(`flood-${index}`);
      if (index % 50 === 0) await limiter.peek('busy'); // in use
    }
    expect(store.size()).toBeLessThanOrEqual(100);
    expect(store.has('busy')).toBe(true);
    expect((await limiter.peek('busy')).remaining).toBe(0);
  });

  it('peek does not create keys', async () => {
    const { store, limiter } = setup(slidingWindow({ limit: 5, windowMs: 1000 }));
    await limiter.peek('ghost');
    expect(store.size()).toBe(0);
  });
});

describe('store failures', () => {
  const hanging: RateLimitStore = {
    consume: () => new Promise(() => {}),
    peek: () => new Promise(() => {}),
    reset: () => new Promise(() => {}),
    close: async () => {},
  };
  const failing = downStore;

  it('times out a store that does not answer, with one shared timer', async () => {
    const clock = manualClock(0);
    const limiter = rateLimiter({ algorithm: gcra({ rate: 5 }), store: hanging, clock, timeoutMs: 200 });
    const failures: string[] = [];
    limiter.on('rate-limit-store-failed', ({ error }) => failures.push(error.code));
    const calls = Array.from({ length: 5 }, (_, index) => limiter.consume(`k${index}`));
    const settled = Promise.allSettled(calls);
    expect(clock.pendingTimers()).toBe(1);
    await clock.advanceAsync(200);
    const results = await settled;
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(RateLimitStoreError);
      expect((result as PromiseRejectedResult).reason.code).toBe('RATE_LIMIT_STORE_TIMEOUT');
    }
    expect(failures).toHaveLength(5);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('wraps backend errors with the cause', async () => {
    const limiter = rateLimiter({ algorithm: gcra({ rate: 5 }), store: failing, clock: manualClock(0) });
    const error = await limiter.consume('k').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitStoreError);
    expect((error as RateLimitStoreError).code).toBe('RATE_LIMIT_STORE_FAILED');
    expect(((error as RateLimitStoreError).cause as Error).message).toBe('ECONNREFUSED');
  });

  it('rejects with the signal reason when aborted', async () => {
    const clock = manualClock(0);
    const limiter = rateLimiter({ algorithm: gcra({ rate: 5 }), store: hanging, clock });
    const controller = new AbortController();
    const call = limiter.consume('k', { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(call).rejects.toThrowError('caller gave up');
    await clock.runAllAsync();
  });
});

describe('rateLimit policy', () => {
  it('runs the call when admitted and rejects with RateLimitedError carrying retryAfterMs', async () => {
    const { limiter } = setup(fixedWindow({ limit: 2, windowMs: 1000 }));
    const policy = rateLimit(limiter, { key: 'payments' });
    let runs = 0;
    const work = async () => ++runs;
    expect(await policy.execute(work)).toBe(1);
    expect(await policy.execute(work)).toBe(2);
    const error = await policy.execute(work).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect((error as RateLimitedError).code).toBe('RATE_LIMITED');
    expect(runs).toBe(2);
  });

  it('fails open only when asked to', async () => {
    const failing: RateLimitStore = {
      consume: async () => {
        throw new Error('down');
      },
      peek: async () => {
        throw new Error('down');
      },
      reset: async () => {},
      close: async () => {},
    };
    const limiter = rateLimiter({ algorithm: gcra({ rate: 1 }), store: failing, clock: manualClock(0) });
    await expect(rateLimit(limiter, { key: 'k' }).execute(async () => 'ran')).rejects.toBeInstanceOf(
      RateLimitStoreError,
    );
    expect(await rateLimit(limiter, { key: 'k', failOpen: true }).execute(async () => 'ran')).toBe('ran');
  });

  it('validates its options', () => {
    const { limiter } = setup(fixedWindow({ limit: 2, windowMs: 1000 }));
    expect(() => rateLimit(limiter, { key: '' })).toThrowError(InvalidOptionsError);
    expect(() => rateLimit(limiter, { key: 'k', cost: 3 })).toThrowError(/cost must be an integer/);
  });
});
