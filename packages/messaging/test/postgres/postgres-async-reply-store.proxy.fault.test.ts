import { randomUUID } from 'node:crypto';
import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { PostgresStoreError, postgresAsyncReplyStore } from '../../src/postgres/index.js';

// Issue #15: the PostgreSQL async-reply store under every fault of the shared driver. Each call
// runs one operation through create → start → finish; afterwards every acknowledged step is
// there, and a finished operation can never be started again.
await describeWithServers('postgresAsyncReplyStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  const hour = 3_600_000;
  faultScenarios({
    adapter: 'postgresAsyncReplyStore',
    proxy: () => proxyFor(url),
    // A call is three statements.
    callTimeoutMs: 3 * queryTimeoutMs,
    async subject(proxy) {
      const { pool, errors } = proxiedPool(proxy, url);
      const table = uniqueName('async_reply_proxy');
      const store = postgresAsyncReplyStore(pool, { table, queryTimeoutMs });
      await store.migrate();
      const created = new Set<string>();
      const finished = new Set<string>();
      return {
        async call() {
          const id = randomUUID();
          const now = Date.now();
          if (!(await store.create({ id, kind: 'report', createdAt: now, expiresAt: now + hour }))) return;
          created.add(id);
          const runId = randomUUID();
          if (!(await store.start(id, { now, runId, leaseUntil: now + 60_000 }))) return;
          const done = await store.finish(id, {
            now,
            runId,
            expiresAt: now + hour,
            status: 'succeeded',
            result: JSON.stringify({ id }),
            resultClaimed: false,
          });
          if (done) finished.add(id);
        },
        isTypedError: (error) => error instanceof PostgresStoreError,
        probe: () => store.get('probe', Date.now()),
        async checkBooks() {
          let lost = 0;
          let doubled = 0;
          const now = Date.now();
          for (const id of created) {
            const record = await store.get(id, now);
            if (!record) lost += 1;
            else if (finished.has(id) && (record.status !== 'succeeded' || record.result !== JSON.stringify({ id })))
              lost += 1;
          }
          // A finished operation is never run a second time.
          for (const id of finished)
            if (await store.start(id, { now, runId: randomUUID(), leaseUntil: now + 60_000 })) doubled += 1;
          return { lost, doubled, detail: `(created ${created.size}, finished ${finished.size})` };
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
