// The Redis rate-limit and circuit-state stores across real Redis restarts: a private
// redis-server with an fsync'ed append-only file (never the shared one) is SIGKILLed, then shut
// down cleanly, and started again each time on the same port and directory, while one client
// made before keeps working. Nothing Redis acknowledged may be lost.

import { circuitBreaker, consecutive, RateLimitStoreError, rateLimiter } from '@bulwark/resilience';
import { redisCircuitStateStore, redisRateLimitStore } from '@bulwark/resilience/redis';
import { describeWithRedisServer, runFaultScenarios, useRestartedRedis } from '@bulwark/test-support';
import { expect, it } from 'vitest';
import { countingWindow } from '../rate-limit/counting-window.js';

describeWithRedisServer('Redis stores across Redis restarts (private redis-server, AOF)', () => {
  const harness = useRestartedRedis();

  it('redisRateLimitStore: decisions fail typed while Redis is down, recover, and every counted decision survives', async () => {
    const timeoutMs = 500;
    const limiter = rateLimiter({
      name: 'restart',
      algorithm: countingWindow,
      store: redisRateLimitStore(harness.redis, { prefix: 'restart:' }),
      timeoutMs,
    });
    let allowed = 0;
    const report = await runFaultScenarios({
      name: 'redisRateLimitStore (restart)',
      load: async () => {
        if ((await limiter.consume('steady')).allowed) allowed += 1;
      },
      callTimeoutMs: timeoutMs,
      recoverWithinMs: 5_000,
      isTypedError: (error) => error instanceof RateLimitStoreError,
      faults: harness.restarts(),
    });
    const counted = countingWindow.limit - (await limiter.peek('steady')).remaining;
    console.log(report.summary({ allowed, counted, 'lost (allowed but not counted)': Math.max(0, allowed - counted) }));
    expect(report.problems).toEqual([]);
    expect(counted).toBeGreaterThanOrEqual(allowed);
  }, 60_000);

  it('redisCircuitStateStore: an open circuit published before a crash is still open after it', async () => {
    const store = redisCircuitStateStore(harness.redis, { prefix: 'restart-circuit:' });
    const options = { name: 'payments', strategy: consecutive(2), halfOpenAfter: 600_000, syncIntervalMs: 0 };
    const breaker = circuitBreaker({ ...options, store, storeTimeoutMs: 500 });
    const report = await runFaultScenarios({
      name: 'redisCircuitStateStore (restart)',
      load: () => breaker.execute(async () => 'ok'),
      check: () => store.read('payments'),
      callTimeoutMs: 500,
      recoverWithinMs: 5_000,
      isTypedError: () => false,
      faults: harness.restarts(),
    });
    const opened = { state: 'open' as const, at: Date.now(), openUntil: Date.now() + 600_000 };
    await store.publish('payments', opened);
    await harness.server.stop('SIGKILL');
    await harness.server.start();
    await expect.poll(() => store.read('payments').catch(() => 'failed'), { timeout: 5_000 }).toEqual(opened);
    console.log(report.summary({ 'published state lost': 0 }));
    expect(report.problems).toEqual([]);
  }, 60_000);
});
