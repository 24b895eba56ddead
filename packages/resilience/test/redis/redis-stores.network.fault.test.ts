// The Redis rate-limit and circuit-state stores under network faults, through a fault proxy in
// front of the shared Redis: connections cut mid-call and while idle, Redis unreachable for 5 s,
// silent for 10 s, 200 ms of latency. Each store is used as users use it (through a rate limiter
// and a circuit breaker, which bound every store call with their own timeout) by one client made
// before the faults and never replaced.

import { circuitBreaker, consecutive, RateLimitStoreError, rateLimiter } from '@bulwark/resilience';
import { redisCircuitStateStore, redisRateLimitStore } from '@bulwark/resilience/redis';
import { describeWithServers, runFaultScenarios, uniqueName, useRedisBehindFaultProxy } from '@bulwark/test-support';
import { expect, it } from 'vitest';
import { countingWindow } from '../rate-limit/counting-window.js';

await describeWithServers('Redis stores under network faults (fault proxy)', ['redis'], ({ redis: url }) => {
  const harness = useRedisBehindFaultProxy(url);

  it('redisRateLimitStore: every decision settles in timeoutMs, typed when it fails; recovers; none counted twice', async () => {
    const timeoutMs = 500;
    const prefix = `${uniqueName('rate-fault')}:`;
    const limiter = rateLimiter({
      name: 'faults',
      algorithm: countingWindow,
      store: redisRateLimitStore(harness.redis, { prefix }),
      timeoutMs,
    });
    let allowed = 0;
    const report = await runFaultScenarios({
      name: 'redisRateLimitStore',
      proxy: harness.proxy,
      load: async () => {
        const decision = await limiter.consume('steady');
        if (decision.allowed) allowed += 1;
      },
      callTimeoutMs: timeoutMs,
      recoverWithinMs: 5_000,
      isTypedError: (error) => error instanceof RateLimitStoreError,
    });
    // The window's count, read past the proxy: every allowed decision is in it (none lost). A
    // decision that timed out may still have counted (its outcome was unknown to the caller),
    // so the count may exceed `allowed` by at most the calls that failed.
    const counted = countingWindow.limit - (await limiter.peek('steady')).remaining;
    const failed = report.results.reduce((sum, result) => sum + result.typedFailures, 0);
    console.log(report.summary({ allowed, counted, 'lost (allowed but not counted)': Math.max(0, allowed - counted) }));
    expect(report.problems).toEqual([]);
    expect(counted).toBeGreaterThanOrEqual(allowed);
    expect(counted - allowed).toBeLessThanOrEqual(failed);
  }, 80_000);

  it('redisCircuitStateStore: breakers keep answering from local state while Redis fails, and share state again after', async () => {
    const prefix = `${uniqueName('circuit-fault')}:`;
    const name = 'payments';
    const options = { name, strategy: consecutive(2), halfOpenAfter: 600_000, syncIntervalMs: 0, storeTimeoutMs: 500 };
    const store = redisCircuitStateStore(harness.redis, { prefix });
    const breaker = circuitBreaker({ ...options, store });
    let ran = 0;
    const report = await runFaultScenarios({
      name: 'redisCircuitStateStore',
      proxy: harness.proxy,
      // A breaker call never fails for the store's sake: it syncs in the background, bounded.
      load: () => breaker.execute(async () => ++ran),
      // The store itself answers again (read and publish through the proxied client).
      check: async () => {
        await store.publish('probe', { state: 'closed', at: Date.now() });
        await store.read('probe');
      },
      callTimeoutMs: 500,
      recoverWithinMs: 5_000,
      isTypedError: () => false,
    });
    console.log(report.summary({ 'breaker calls that ran': ran }));
    expect(report.problems).toEqual([]);

    // Shared state works again through the same client: one instance opens, the other fails fast.
    const other = circuitBreaker({ ...options, store: redisCircuitStateStore(harness.direct, { prefix }) });
    const failing = async () => {
      throw new Error('dependency down');
    };
    await expect(breaker.execute(failing)).rejects.toThrowError('dependency down');
    await expect(breaker.execute(failing)).rejects.toThrowError('dependency down');
    expect(breaker.state).toBe('open');
    await expect
      .poll(
        async () => {
          await other.execute(async () => 'ok').catch(() => undefined);
          return other.state;
        },
        { timeout: 5_000, interval: 100 },
      )
      .toBe('open');
  }, 80_000);
});
