import { randomUUID } from 'node:crypto';
import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { SagaLogError } from '../../src/errors/saga-error.js';
import { postgresSagaLog } from '../../src/postgres/index.js';

// Issue #15: the PostgreSQL saga log under every fault of the shared driver. Each call creates a
// run and appends one step's intent; afterwards every acknowledged write is in the run's history,
// and none twice.
await describeWithServers('postgresSagaLog through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  faultScenarios({
    adapter: 'postgresSagaLog',
    proxy: () => proxyFor(url),
    // A call is two statements.
    callTimeoutMs: 2 * queryTimeoutMs,
    async subject(proxy) {
      const { pool, errors } = proxiedPool(proxy, url);
      const table = uniqueName('sagas_proxy');
      const log = postgresSagaLog(pool, { table, queryTimeoutMs });
      await log.migrate();
      const owner = 'fault-test';
      /** Entries acknowledged per run: 1 after create, 2 after the append. */
      const acknowledged = new Map<string, number>();
      return {
        async call() {
          const id = randomUUID();
          const at = Date.now();
          const { created } = await log.create(
            { id, name: 'place-order', input: { id }, owner, leaseUntil: at + 60_000, at },
            [{ at, kind: 'saga-started' }],
          );
          if (!created) return;
          acknowledged.set(id, 1);
          await log.append(id, owner, {
            entries: [{ at, kind: 'step-intent', step: 'reserve-stock', attempt: 1 }],
            at,
            leaseUntil: at + 60_000,
          });
          acknowledged.set(id, 2);
        },
        isTypedError: (error) => error instanceof SagaLogError,
        probe: () => log.get('probe'),
        async checkBooks() {
          let lost = 0;
          let doubled = 0;
          for (const [id, entries] of acknowledged) {
            const history = await log.history(id);
            if (history.length < entries) lost += 1;
            // A create and one append make at most two entries, whatever was retried.
            if (history.length > 2) doubled += 1;
          }
          return { lost, doubled, detail: `(runs ${acknowledged.size})` };
        },
        notes: () => `poolErrors=${errors()}`,
        async close() {
          await pool.query(`DROP TABLE IF EXISTS "${table}_entries", "${table}"`).catch(() => {});
          await pool.end();
        },
      };
    },
  });
});
