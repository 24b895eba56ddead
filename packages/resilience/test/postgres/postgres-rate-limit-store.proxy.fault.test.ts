import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { fixedWindow, RateLimitStoreError, rateLimiter } from '../../src/index.js';
import { postgresRateLimitStore } from '../../src/postgres/index.js';

// Issue #15: the PostgreSQL rate-limit store under every fault of the shared driver.
await describeWithServers('postgresRateLimitStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  const algorithm = fixedWindow({ limit: 10_000_000, windowMs: 3_600_000 });
  faultScenarios({
    adapter: 'postgresRateLimitStore',
    proxy: () => proxyFor(url),
    callTimeoutMs: queryTimeoutMs,
    async subject(proxy) {
      const table = uniqueName('rate_limits_proxy');
      const { pool, errors } = proxiedPool(proxy, url);
      const store = postgresRateLimitStore(pool, { table, queryTimeoutMs, sweepIntervalMs: 0 });
      await store.migrate();
      const limiter = rateLimiter({ algorithm, store, timeoutMs: queryTimeoutMs });
      let acknowledged = 0;
      let failed = 0;
      return {
        async call() {
          try {
            await limiter.consume('steady');
            acknowledged += 1;
          } catch (error) {
            failed += 1;
            throw error;
          }
        },
        isTypedError: (error) => error instanceof RateLimitStoreError,
        probe: () => store.peek('probe', algorithm),
        async checkBooks() {
          // Every acknowledged decision was counted; a failed one may or may not have been.
          const used = algorithm.limit - (await store.peek('steady', algorithm)).remaining;
          return {
            lost: Math.max(0, acknowledged - used),
            doubled: Math.max(0, used - acknowledged - failed),
            detail: `(acknowledged ${acknowledged}, failed ${failed}, counted ${used})`,
          };
        },
        notes: () => `poolErrors=${errors()}`,
        async close() {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS ${store.table}`).catch(() => {});
          await pool.end();
        },
      };
    },
  });
});
