import { describeWithServers, faultScenarios, proxiedPool, proxyFor, uniqueName } from '@bulwark/test-support';
import { expect, it } from 'vitest';
import { createEnvelope } from '../../src/envelope/envelope.js';
import { PostgresStoreError, type PostgresTransport, postgresTransport } from '../../src/postgres/index.js';
import type { Subscription } from '../../src/transport/transport.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Issue #15: the PostgreSQL transport under every fault of the shared driver: publishes are the
// steady load, one subscription (and its LISTEN connection) receives and acks explicitly.
// Books: every publish that resolved is delivered; no message is delivered again after its ack
// resolved.
await describeWithServers('postgresTransport through the fault proxy', ['postgres'], ({ postgres: url }) => {
  const queryTimeoutMs = 2_000;
  let transport: PostgresTransport;
  let degradedSeen = false;
  faultScenarios({
    adapter: 'postgresTransport',
    proxy: () => proxyFor(url),
    callTimeoutMs: queryTimeoutMs,
    async subject(proxy) {
      const { pool, errors } = proxiedPool(proxy, url, { max: 6 });
      const table = uniqueName('messages_proxy');
      transport = postgresTransport(pool, { table, queryTimeoutMs, visibilityTimeoutMs: 3_000, pollIntervalMs: 200 });
      await transport.migrate();
      const topic = 'orders';
      const published = new Set<string>();
      const delivered = new Set<string>();
      const acked = new Set<string>();
      let deliveredAfterAck = 0;
      const subscription: Subscription = await transport.subscribe(
        topic,
        'billing',
        async (delivery) => {
          const id = delivery.message.id;
          if (acked.has(id)) deliveredAfterAck += 1;
          delivered.add(id);
          await delivery.ack();
          acked.add(id);
        },
        { prefetch: 8 },
      );
      const sampler = setInterval(() => {
        if (transport.health().status === 'degraded') degradedSeen = true;
      }, 50);
      const publish = async () => {
        const message = createEnvelope({ topic, type: 'order.placed', payload: { at: 1 } });
        await transport.publish(topic, [message]);
        published.add(message.id);
        return message.id;
      };
      return {
        call: publish,
        isTypedError: (error) => error instanceof PostgresStoreError,
        async probe() {
          const id = await publish();
          for (let waited = 0; waited < 3_000; waited += 50) {
            if (acked.has(id)) return true;
            await sleep(50);
          }
          return false;
        },
        async checkBooks() {
          // A delivery claimed just as its connection was cut comes back after the visibility
          // timeout. (An ack cut on the wire may have been applied: its message counts as delivered.)
          for (let waited = 0; waited < 15_000 && [...published].some((id) => !delivered.has(id)); waited += 100)
            await sleep(100);
          const lost = [...published].filter((id) => !delivered.has(id)).length;
          return {
            lost,
            doubled: deliveredAfterAck,
            detail: `(published ${published.size}, delivered ${delivered.size}, acked ${acked.size})`,
          };
        },
        notes: () => `poolErrors=${errors()} degradedSeen=${degradedSeen}`,
        async close() {
          clearInterval(sampler);
          await subscription.close();
          await transport.close();
          await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups"`).catch(() => {});
          await pool.end();
        },
      };
    },
  });

  it('said so in health() while degraded, and is up again', () => {
    expect(degradedSeen).toBe(true);
    expect(transport.health().status).toBe('up');
  });
});
