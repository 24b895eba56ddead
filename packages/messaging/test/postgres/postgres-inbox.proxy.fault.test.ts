import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import type { MessageContext } from '../../src/consumer/consumer-options.js';
import { createEnvelope, type Envelope } from '../../src/envelope/envelope.js';
import { PostgresStoreError, postgresInbox } from '../../src/postgres/index.js';

// Issue #15: the PostgreSQL inbox under every fault of the shared driver. Each call delivers one
// message to the inbox handler as a consumer would: a new message, one whose handling failed
// (redelivered, as the transport would), or one already handled (a duplicate delivery). The work
// writes one effect row in the inbox's transaction. Books: every message whose handling resolved
// has its effect, and no message has two.
await describeWithServers('postgresInbox through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  faultScenarios({
    adapter: 'postgresInbox',
    proxy: () => proxyFor(url),
    callTimeoutMs: queryTimeoutMs,
    async subject(proxy) {
      // The work's own statement is bounded by the pool's query_timeout, as a user would set it.
      const { pool, errors } = proxiedPool(proxy, url, { query_timeout: queryTimeoutMs });
      const table = uniqueName('inbox_proxy');
      const effects = uniqueName('inbox_effects');
      const inbox = postgresInbox(pool, { table, queryTimeoutMs });
      await inbox.migrate();
      await pool.query(`CREATE TABLE "${effects}" (message_id text NOT NULL)`);
      const handle = inbox.handler('billing', async (message, { client }) => {
        await client.query(`INSERT INTO "${effects}" (message_id) VALUES ($1)`, [message.id]);
      });
      const handled: Envelope[] = [];
      const failed: Envelope[] = [];
      let duplicates = 0;
      let turn = 0;
      const deliver = (message: Envelope) => {
        const context: MessageContext = {
          signal: new AbortController().signal,
          attempt: 1,
          deliveryCount: 1,
          delivery: { message, deliveryCount: 1, ack: async () => {}, nack: async () => {} },
        };
        return handle(message, context);
      };
      return {
        async call() {
          turn += 1;
          const redelivery = failed.shift();
          const duplicate = turn % 4 === 0 ? handled[turn % Math.max(1, handled.length)] : undefined;
          const message =
            redelivery ?? duplicate ?? createEnvelope({ topic: 'orders', type: 'order.placed', payload: {} });
          try {
            await deliver(message);
          } catch (error) {
            // The transport would deliver it again.
            failed.push(message);
            throw error;
          }
          if (message === duplicate) duplicates += 1;
          else handled.push(message);
        },
        isTypedError: (error) => error instanceof PostgresStoreError,
        probe: () =>
          pool.query('SELECT 1').then(() => deliver(createEnvelope({ topic: 'probe', type: 'probe', payload: {} }))),
        async checkBooks() {
          // Deliver what failed until it went through, as the transport would.
          while (failed.length > 0) {
            const message = failed.shift() as Envelope;
            await deliver(message);
            handled.push(message);
          }
          const { rows } = await pool.query<{ message_id: string; copies: number }>(
            `SELECT message_id, count(*)::int AS copies FROM "${effects}" GROUP BY 1`,
          );
          const copies = new Map(rows.map((row) => [row.message_id, row.copies]));
          const lost = handled.filter((message) => !copies.has(message.id)).length;
          const doubled = rows.filter((row) => row.copies > 1).length;
          return { lost, doubled, detail: `(handled ${handled.length}, duplicate deliveries ${duplicates})` };
        },
        notes: () => `poolErrors=${errors()}`,
        async close() {
          await pool.query(`DROP TABLE IF EXISTS "${table}", "${effects}"`).catch(() => {});
          await pool.end();
        },
      };
    },
  });
});
