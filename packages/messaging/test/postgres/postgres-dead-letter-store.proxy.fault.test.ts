import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { createEnvelope } from '../../src/envelope/envelope.js';
import { PostgresStoreError, postgresDeadLetterStore } from '../../src/postgres/index.js';

// Issue #15: the PostgreSQL dead-letter store under every fault of the shared driver. Every add
// that resolved is listed afterwards, and no message is stored twice.
await describeWithServers('postgresDeadLetterStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  faultScenarios({
    adapter: 'postgresDeadLetterStore',
    proxy: () => proxyFor(url),
    callTimeoutMs: queryTimeoutMs,
    async subject(proxy) {
      const { pool, errors } = proxiedPool(proxy, url);
      const table = uniqueName('dead_letters_proxy');
      const store = postgresDeadLetterStore(pool, { table, queryTimeoutMs });
      await store.migrate();
      const added = new Set<string>();
      return {
        async call() {
          const message = createEnvelope({ topic: 'orders.dead-letter', type: 'order.failed', payload: { at: 1 } });
          await store.add(message);
          added.add(message.id);
        },
        isTypedError: (error) => error instanceof PostgresStoreError,
        probe: () => store.list({ originalTopic: 'probe', limit: 1 }),
        async checkBooks() {
          const { rows } = await pool.query<{ id: string; copies: number }>(
            `SELECT message ->> 'id' AS id, count(*)::int AS copies FROM "${table}" GROUP BY 1`,
          );
          const stored = new Map(rows.map((row) => [row.id, row.copies]));
          let lost = 0;
          for (const id of added) if (!stored.has(id)) lost += 1;
          const doubled = rows.filter((row) => row.copies > 1).length;
          return { lost, doubled, detail: `(added ${added.size}, stored ${stored.size})` };
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
