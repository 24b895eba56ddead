// The relay hands the envelopes it read from PostgreSQL to a transport's publishJson as the text
// PostgreSQL wrote (keys reordered, spaced), unparsed: what a consumer receives must equal what was
// added, in key order. With a claim check, or a transport without publishJson (another serializer),
// the relay publishes envelopes as before. One scenario, run for each broker.

import {
  claimCheck,
  createEnvelope,
  type Envelope,
  isClaim,
  type JsonEnvelope,
  jsonSerializer,
  memoryBlobStore,
  type PublishOptions,
  type Serializer,
  type Transport,
} from '@bulwark/messaging';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { jsonBrokers } from '../transport/fixtures/json-brokers.js';

/** A serializer that is not the JSON one (JSON behind a marker byte), so the transport takes envelopes only. */
const markedSerializer: Serializer = {
  contentType: 'application/x-marked-json',
  serialize: (envelope) => Buffer.concat([Buffer.from('#'), jsonSerializer.serialize(envelope)]),
  deserialize: (bytes) => jsonSerializer.deserialize(Buffer.from(bytes).subarray(1)),
};

const waitUntil = async (condition: () => boolean | Promise<boolean>, what: () => string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** `transport` with its publish calls counted (the relay sees this one). */
function counted(transport: Transport): { transport: Transport; calls: { publish: number; publishJson: number } } {
  const calls = { publish: 0, publishJson: 0 };
  const publishJson = transport.publishJson;
  const properties: PropertyDescriptorMap = {
    publish: {
      value: (topic: string, messages: readonly Envelope[], options?: PublishOptions) => {
        calls.publish += 1;
        return transport.publish(topic, messages, options);
      },
    },
    publishJson: {
      value: publishJson
        ? (topic: string, messages: readonly JsonEnvelope[], options?: PublishOptions) => {
            calls.publishJson += 1;
            return publishJson.call(transport, topic, messages, options);
          }
        : undefined,
    },
  };
  return { transport: Object.create(transport, properties) as Transport, calls };
}

/** Messages of several keys (one without), a FIFO group, text that JSON escapes, custom headers. */
function messagesFor(topic: string): Envelope[] {
  return Array.from({ length: 60 }, (_, index) =>
    createEnvelope({
      topic,
      type: index % 2 ? 'order.placed' : 'order.paid',
      ...(index % 10 === 9 ? {} : { key: `order-${index % 7}` }),
      ...(index % 15 === 0 ? { groupId: `group-${index % 2}` } : {}),
      payload: { index, note: `ünïcödé "quoted" \\ ✓ ${'x'.repeat(index)}`, lines: [{ sku: 'SKU-1', quantity: 2 }] },
      headers: { correlationId: `correlation-${index}`, tenant: 'acme' },
    }),
  );
}

for (const broker of jsonBrokers) {
  await describeWithServers(`outbox relay → ${broker.name}, ready-made JSON`, ['postgres', broker.server], (urls) => {
    let pool: pg.Pool;
    const tables: string[] = [];
    beforeAll(() => {
      pool = new pg.Pool({ connectionString: urls.postgres, max: 6 });
    });
    afterAll(async () => {
      for (const table of tables) {
        await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
        await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
      }
      await pool.end();
    });

    /**
     * Adds `messagesFor(topic)` to a fresh outbox, runs `edit` on the table (SQL written by hand),
     * relays them, and returns what a consumer received.
     */
    const relayed = async (
      options: {
        serializer?: Serializer;
        claimCheck?: Parameters<typeof claimCheck>[0];
        edit?: (table: string, sent: readonly Envelope[]) => Promise<unknown>;
      } = {},
    ): Promise<{ sent: Envelope[]; received: Envelope[]; calls: { publish: number; publishJson: number } }> => {
      const opened = await broker.open(
        urls[broker.server],
        options.serializer ? { serializer: options.serializer } : {},
      );
      const { transport, calls } = counted(opened.transport);
      const table = uniqueName('outbox_json');
      tables.push(table);
      const outbox = postgresOutbox(pool, { table });
      await outbox.migrate();
      const topic = uniqueName('orders');
      const received: Envelope[] = [];
      await opened.transport.subscribe(topic, 'billing', async (delivery) => {
        received.push(delivery.message);
      });
      const sent = messagesFor(topic);
      await withTransaction(pool, (client) => outbox.add(client, sent.slice(0, 25)));
      await withTransaction(pool, (client) => outbox.add(client, sent.slice(25)));
      await options.edit?.(table, sent);
      const relay = outbox.relay({
        transport,
        publishConcurrency: 4,
        batchSize: 7,
        pollIntervalMs: 100,
        ...(options.claimCheck ? { claimCheck: claimCheck(options.claimCheck) } : {}),
      });
      try {
        await waitUntil(
          () => received.length >= sent.length,
          () => `${sent.length} messages (got ${received.length})`,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
      } finally {
        await relay.close();
        await outbox.close();
        await opened.transport.close({ deadlineMs: 0 });
        await opened.remove();
      }
      return { sent, received, calls };
    };

    /** Each key's messages arrive in the order they were added. */
    const expectKeyOrder = (sent: readonly Envelope[], received: readonly Envelope[]) => {
      for (const key of new Set(sent.map((message) => message.key)))
        expect(received.filter((message) => message.key === key).map((message) => message.id)).toEqual(
          sent.filter((message) => message.key === key).map((message) => message.id),
        );
    };

    it('publishes the stored JSON through publishJson: each message arrives equal to the one added, in key order', async () => {
      const { sent, received, calls } = await relayed();
      expect(calls.publishJson).toBeGreaterThan(0);
      expect(calls.publish).toBe(0);
      expect(received).toHaveLength(sent.length);
      for (const message of received) expect(message).toEqual(sent.find((added) => added.id === message.id));
      expectKeyOrder(sent, received);
    });

    it('publishes envelopes when a claim check is set, checking big payloads in', async () => {
      const { sent, received, calls } = await relayed({
        claimCheck: { store: memoryBlobStore(), thresholdBytes: 100 },
      });
      expect(calls.publishJson).toBe(0);
      expect(calls.publish).toBeGreaterThan(0);
      expect(received).toHaveLength(sent.length);
      const claimed = received.filter((message) => isClaim(message.payload));
      expect(claimed.length).toBeGreaterThan(0);
      for (const message of received)
        if (!claimed.includes(message)) expect(message).toEqual(sent.find((added) => added.id === message.id));
      expectKeyOrder(sent, received);
    });

    it('publishes envelopes to a transport with another serializer, which has no publishJson', async () => {
      const { sent, received, calls } = await relayed({ serializer: markedSerializer });
      expect(calls.publishJson).toBe(0);
      expect(calls.publish).toBeGreaterThan(0);
      for (const message of received) expect(message).toEqual(sent.find((added) => added.id === message.id));
      expectKeyOrder(sent, received);
    });

    it("gives consumers a number past a double's range, written into the outbox by SQL, as publish sends it (null; -0 as 0), through publishJson and through publish", async () => {
      // outbox.add cannot store one (JSON.stringify writes no such number); SQL written by hand can,
      // and jsonb keeps it (as every digit). JSON.parse would read 1e400 as Infinity and -1e-400 as -0.
      const numbers = { huge: '1e400', negativeHuge: '-1e400', tiny: '-1e-400', kept: '1.7976931348623157e308' };
      const edit = (table: string, sent: readonly Envelope[]) =>
        pool.query(
          `UPDATE "${table}" SET envelope = jsonb_set(envelope, '{payload}', envelope->'payload' || $2::jsonb) WHERE id = $1`,
          [
            sent[3]?.id,
            `{${Object.entries(numbers)
              .map(([name, number]) => `"${name}": ${number}`)
              .join(', ')}}`,
          ],
        );
      const viaJson = await relayed({ edit });
      const viaPublish = await relayed({ edit, claimCheck: { store: memoryBlobStore(), thresholdBytes: 1_000_000 } });
      expect(viaJson.calls.publishJson).toBeGreaterThan(0);
      expect(viaPublish.calls.publishJson).toBe(0);
      for (const { sent, received } of [viaJson, viaPublish]) {
        const edited = received.find((message) => message.id === sent[3]?.id);
        expect(edited?.payload).toEqual({
          ...(sent[3]?.payload as object),
          huge: null,
          negativeHuge: null,
          tiny: 0,
          kept: 1.7976931348623157e308,
        });
        expect((edited?.payload as { tiny?: number } | undefined)?.tiny, 'tiny is 0, not -0 (toBe is Object.is)').toBe(
          0,
        );
        for (const message of received)
          if (message !== edited) expect(message).toEqual(sent.find((added) => added.id === message.id));
        expectKeyOrder(sent, received);
      }
    });
  });
}
