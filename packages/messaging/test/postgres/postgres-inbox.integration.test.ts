import { consume, createEnvelope, memoryTransport } from '@bulwark/messaging';
import { postgresInbox } from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await describeWithServers('postgresInbox', ['postgres'], ({ postgres }) => {
  const table = uniqueName('inbox');
  const effects = `${table}_effects`;
  let pool: pg.Pool;
  const context = () => ({
    signal: new AbortController().signal,
    attempt: 1,
    deliveryCount: 1,
    delivery: { message: envelope(), deliveryCount: 1, ack: async () => {}, nack: async () => {} },
  });
  const envelope = () => createEnvelope({ topic: 'orders', type: 'order.placed', payload: { total: 1 } });
  const effectCount = async (id: string) =>
    Number((await pool.query(`SELECT count(*) AS n FROM "${effects}" WHERE message_id = $1`, [id])).rows[0].n);

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 6 });
    await postgresInbox(pool, { table }).migrate();
    await pool.query(`CREATE TABLE "${effects}" (message_id text NOT NULL)`);
  });

  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${effects}"`);
    await pool.end();
  });

  it('runs the work of two concurrent copies once: the second waits for the first and is skipped', async () => {
    const inbox = postgresInbox(pool, { table });
    let runs = 0;
    const duplicates: string[] = [];
    const handler = inbox.handler(
      'billing',
      async (message, { client }) => {
        runs += 1;
        await sleep(100);
        await client.query(`INSERT INTO "${effects}" (message_id) VALUES ($1)`, [message.id]);
      },
      { onDuplicate: (message) => duplicates.push(message.id) },
    );
    const message = envelope();
    await Promise.all([handler(message, context()), handler(message, context())]);
    expect(runs).toBe(1);
    expect(duplicates).toEqual([message.id]);
    expect(await effectCount(message.id)).toBe(1);
  });

  it('rolls back the record with the work when the work fails, so a retry runs it', async () => {
    const inbox = postgresInbox(pool, { table });
    let attempts = 0;
    const handler = inbox.handler('billing', async (message, { client }) => {
      attempts += 1;
      await client.query(`INSERT INTO "${effects}" (message_id) VALUES ($1)`, [message.id]);
      if (attempts === 1) throw new Error('fails after writing');
    });
    const message = envelope();
    await expect(handler(message, context())).rejects.toThrow('fails after writing');
    expect(await effectCount(message.id)).toBe(0);
    await handler(message, context());
    expect(attempts).toBe(2);
    expect(await effectCount(message.id)).toBe(1);
  });

  it('keeps groups apart, and forgets ids older than the window on sweep', async () => {
    const inbox = postgresInbox(pool, { table });
    let runs = 0;
    const work = async () => {
      runs += 1;
    };
    const message = envelope();
    await inbox.handler('billing', work)(message, context());
    await inbox.handler('shipping', work)(message, context());
    await inbox.handler('billing', work)(message, context());
    expect(runs).toBe(2);
    expect(await inbox.sweep(0)).toBeGreaterThanOrEqual(2);
    await inbox.handler('billing', work)(message, context());
    expect(runs).toBe(3);
  });

  it('plugs into consume(): a message published twice has one effect', async () => {
    const inbox = postgresInbox(pool, { table });
    const transport = memoryTransport();
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'invoicing',
      concurrency: 4,
      handler: inbox.handler('invoicing', async (message, { client }) => {
        await client.query(`INSERT INTO "${effects}" (message_id) VALUES ($1)`, [message.id]);
      }),
    });
    const message = envelope();
    await transport.publish('orders', [message, message]);
    await transport.publish('orders', [message]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && consumer.snapshot().handled < 3) await sleep(20);
    expect(consumer.snapshot().handled).toBe(3);
    expect(await effectCount(message.id)).toBe(1);
    await consumer.close();
    await transport.close();
  });
});
