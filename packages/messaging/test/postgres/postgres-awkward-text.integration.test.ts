// Awkward text in the PostgreSQL outbox and inbox: what jsonb and text columns cannot hold (NUL,
// lone surrogates, 64 KiB keys) is refused before any write with INVALID_VALUE, leaving the
// caller's transaction usable; emoji and right-to-left marks go through the relay unchanged.

import { createEnvelope } from '@bulwark/messaging';
import { postgresInbox, postgresOutbox } from '@bulwark/messaging/postgres';
import { withTransaction } from '@bulwark/resilience/postgres';
import { largeStorableText, storableTexts, unstorableKeys, unstorableTexts } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordingTransport } from '../outbox/fixtures/recording-transport.js';

const invalidValue = (field: string) => ({ name: 'InvalidMessagingValueError', code: 'INVALID_VALUE', field });

await describeWithServers('PostgreSQL outbox and inbox with awkward text', ['postgres'], ({ postgres }) => {
  let pool: pg.Pool;
  const table = uniqueName('outbox_awkward');
  const inboxTable = uniqueName('inbox_awkward');

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 4 });
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay", "${inboxTable}"`);
    await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    await pool.end();
  });

  it('refuses unstorable payloads, ids, keys and headers before writing, and the transaction goes on', async () => {
    const outbox = postgresOutbox(pool, { table });
    await outbox.migrate();
    await withTransaction(pool, async (client) => {
      for (const [label, text] of Object.entries(unstorableTexts)) {
        const cases: Array<[string, () => unknown]> = [
          ['message.payload.note', () => createEnvelope({ topic: 'orders', type: 't', payload: { note: text } })],
          ['message.payload', () => createEnvelope({ topic: 'orders', type: 't', payload: { [text]: 1 } })],
          ['message.payload', () => createEnvelope({ topic: 'orders', type: 't', payload: text })],
          [
            'message.headers.traceparent',
            () => createEnvelope({ topic: 'orders', type: 't', payload: {}, headers: { traceparent: text } }),
          ],
        ];
        for (const [field, make] of cases) {
          await expect(outbox.add(client, make() as never), label).rejects.toMatchObject(invalidValue(field));
        }
      }
      // A topic longer than RabbitMQ carries would be a row no relay to RabbitMQ could ever send.
      await expect(
        outbox.add(client, createEnvelope({ topic: 't'.repeat(256), type: 't', payload: {} })),
      ).rejects.toMatchObject(invalidValue('message.topic'));
      for (const text of Object.values(unstorableKeys)) {
        await expect(outbox.add(client, createEnvelope({ topic: text, type: 't', payload: {} }))).rejects.toMatchObject(
          invalidValue('message.topic'),
        );
        await expect(
          outbox.add(client, createEnvelope({ topic: 'orders', type: 't', key: text, payload: {} })),
        ).rejects.toMatchObject(invalidValue('message.key'));
      }
      // Nothing reached the server, so the transaction is not aborted and commits what is valid.
      const good = createEnvelope({
        topic: 'orders',
        type: 't',
        payload: { ...storableTexts },
        key: storableTexts.emoji,
      });
      await outbox.add(client, good);
    });
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${table}"`);
    expect(rows[0].n).toBe(1);
  });

  it('relays emoji, right-to-left marks and 64 KiB text unchanged', async () => {
    const outbox = postgresOutbox(pool, { table });
    await outbox.migrate();
    const transport = recordingTransport();
    const sent = Object.values(storableTexts).map((text) =>
      createEnvelope({
        topic: 'orders-awkward',
        id: text,
        type: text,
        key: text,
        payload: { text, [text]: text, large: largeStorableText },
        headers: { note: text },
      }),
    );
    await withTransaction(pool, (client) => outbox.add(client, sent));
    const relay = outbox.relay({ transport });
    try {
      // Plus the one valid message the first test committed to this table.
      await transport.waitFor(sent.length + 1);
      const relayed = transport.published.filter((message) => message.topic === 'orders-awkward');
      expect(relayed).toEqual(sent);
    } finally {
      await relay.close();
      await outbox.close();
    }
  });

  it('the inbox refuses an unstorable group or message id before opening a transaction', async () => {
    const inbox = postgresInbox(pool, { table: inboxTable });
    await inbox.migrate();
    const context = {
      signal: new AbortController().signal,
      attempt: 1,
      deliveryCount: 1,
      delivery: {
        message: createEnvelope({ topic: 'o', type: 't', payload: {} }),
        deliveryCount: 1,
        ack: async () => {},
        nack: async () => {},
      },
    };
    for (const text of Object.values(unstorableKeys)) {
      expect(() => inbox.handler(text, async () => {})).toThrow(expect.objectContaining(invalidValue('group')));
      const handler = inbox.handler(`billing-${storableTexts.emoji}`, async () => {});
      await expect(
        handler({ ...createEnvelope({ topic: 'o', type: 't', payload: {} }), id: text }, context),
      ).rejects.toMatchObject(invalidValue('message.id'));
    }
    let ran = 0;
    const handler = inbox.handler(`billing-${storableTexts['right-to-left marks']}`, async () => {
      ran += 1;
    });
    const message = createEnvelope({ topic: 'o', type: 't', payload: {}, id: storableTexts['longest key'] });
    await handler(message, context);
    await handler(message, context);
    expect(ran).toBe(1);
  });
});
