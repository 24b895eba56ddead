import { exponential } from '@bulwark/resilience';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { expect, it } from 'vitest';
import { createEnvelope, type Envelope } from '../../src/envelope/envelope.js';
import type { OutboxRelay } from '../../src/outbox/outbox.js';
import { postgresOutbox } from '../../src/postgres/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Issue #15: the PostgreSQL outbox relay under every fault of the shared driver. The steady load
// is the application's own transactions adding messages (bounded by withTransaction's options and
// the pool's query_timeout, as a user would set them); the relay, on the same pool, publishes to
// a recording transport. Books: every committed message is published. The relay promises
// at-least-once: a cut between publishing and deleting publishes a row again (counted as
// `repeated`, absorbed downstream by the inbox).
await describeWithServers('postgresOutbox relay through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  let relay: OutboxRelay;
  let degradedSeen = false;
  faultScenarios({
    adapter: 'postgresOutbox relay',
    proxy: () => proxyFor(url),
    // Connect, BEGIN, INSERT, COMMIT.
    callTimeoutMs: 4 * queryTimeoutMs,
    async subject(proxy) {
      const { pool, errors } = proxiedPool(proxy, url, { max: 6, query_timeout: queryTimeoutMs });
      const table = uniqueName('outbox_proxy');
      const outbox = postgresOutbox(pool, { table });
      await outbox.migrate();
      const committed = new Set<string>();
      const published = new Map<string, number>();
      relay = outbox.relay({
        transport: {
          async publish(_topic: string, messages: readonly Envelope[]) {
            for (const message of messages) published.set(message.id, (published.get(message.id) ?? 0) + 1);
          },
        },
        pollIntervalMs: 200,
        queryTimeoutMs,
        backoff: exponential({ initialMs: 100, maxMs: 1_000 }),
      });
      const sampler = setInterval(() => {
        if (relay.snapshot().health.status === 'degraded') degradedSeen = true;
      }, 50);
      const commit = async () => {
        const message = createEnvelope({ topic: 'orders', type: 'order.placed', key: 'k', payload: {} });
        await withTransaction(pool, (client) => outbox.add(client, message), {
          connectTimeoutMs: queryTimeoutMs,
          queryTimeoutMs,
        });
        committed.add(message.id);
        return message.id;
      };
      return {
        call: commit,
        // The application's transaction fails with pg's or the helper's errors; the relay has no calls.
        isTypedError: (error) => error instanceof Error,
        async probe() {
          const id = await commit();
          for (let waited = 0; waited < 3_000; waited += 50) {
            if (published.has(id)) return true;
            await sleep(50);
          }
          return false;
        },
        async checkBooks() {
          for (let waited = 0; waited < 15_000 && [...committed].some((id) => !published.has(id)); waited += 100)
            await sleep(100);
          const lost = [...committed].filter((id) => !published.has(id)).length;
          const repeated = [...published.values()].filter((count) => count > 1).length;
          return {
            lost,
            doubled: undefined,
            repeated,
            detail: `(committed ${committed.size}, published ${published.size})`,
          };
        },
        notes: () => `poolErrors=${errors()} degradedSeen=${degradedSeen}`,
        async close() {
          clearInterval(sampler);
          await relay.close();
          await outbox.close();
          await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay" CASCADE`).catch(() => {});
          await pool.end();
        },
      };
    },
  });

  it('said so in snapshot().health while degraded, and is up again', () => {
    expect(degradedSeen).toBe(true);
    expect(relay.snapshot().health.status).toBe('up');
    expect(relay.snapshot().role).toBe('leader');
  });
});
