import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { PostgresStoreError, postgresIdempotencyStore } from '../../src/postgres/index.js';

// Issue #15: the PostgreSQL idempotency store under every fault of the shared driver. Each call
// completes a new key, or begins again a key whose completion was acknowledged: that one must
// come back completed with its outcome, never be acquired a second time.
await describeWithServers('postgresIdempotencyStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  faultScenarios({
    adapter: 'postgresIdempotencyStore',
    proxy: () => proxyFor(url),
    // A call is two statements.
    callTimeoutMs: 2 * queryTimeoutMs,
    async subject(proxy) {
      const { pool, errors } = proxiedPool(proxy, url);
      const table = uniqueName('idempotency_proxy');
      const store = postgresIdempotencyStore(pool, { table, queryTimeoutMs });
      await store.migrate();
      const completed = new Map<string, string>();
      let doubled = 0;
      let next = 0;
      return {
        async call() {
          const known = [...completed.keys()];
          if (next % 2 === 1 && known.length > 0) {
            const key = known[next++ % known.length] as string;
            const again = await store.begin(key, 'fingerprint', 60_000);
            if (again.kind === 'acquired') doubled += 1;
            else if (again.record.status !== 'completed' || again.record.outcome !== completed.get(key)) doubled += 1;
            return;
          }
          const key = `key-${next++}`;
          const begun = await store.begin(key, 'fingerprint', 60_000);
          if (begun.kind !== 'acquired') return;
          if (await store.complete(key, begun.leaseToken, `outcome of ${key}`, 3_600_000))
            completed.set(key, `outcome of ${key}`);
        },
        isTypedError: (error) => error instanceof PostgresStoreError,
        probe: () => store.get('probe'),
        async checkBooks() {
          let lost = 0;
          for (const [key, outcome] of completed) {
            const record = await store.get(key);
            if (record?.status !== 'completed' || record.outcome !== outcome) lost += 1;
          }
          return { lost, doubled, detail: `(completed ${completed.size})` };
        },
        notes: () => `poolErrors=${errors()}`,
        async close() {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
          await pool.end();
        },
      };
    },
  });
});
