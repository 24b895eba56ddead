import { createEnvelope, type Delivery } from '@bulwark/messaging';
import { postgresTransport, postgresTransportSql } from '@bulwark/messaging/postgres';
import { InvalidOptionsError } from '@bulwark/resilience';

import { collectProcessWarnings, describeWithServers, uniqueName } from '@bulwark/test-support';

import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const envelope = (index: number, key?: string) =>
  createEnvelope({ topic: 't', type: 'x', payload: { index }, ...(key === undefined ? {} : { key }) });

async function eventually(condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
  return Date.now() - started;
}

await describeWithServers('postgresTransport (specific)', ['postgres'], ({ postgres }) => {
  const table = uniqueName('pg_transport');
  const pools: pg.Pool[] = [];
  const newPool = (max = 4) => {
    const pool = new pg.Pool({ connectionString: postgres, max });
    pool.on('error', () => {});
    pools.push(pool);
    return pool;
  };

  /** A fresh topic with the group 'g', on a transport that does not listen, over a pool of `max` connections. */
  const quietGroup = async (name: string, max: number) => {
    const topic = uniqueName(name);
    const pool = newPool(max);
    const transport = postgresTransport(pool, { table, listen: false });
    await transport.declareGroup(topic, 'g');
    return { topic, sql: postgresTransportSql({ table }), pool, transport };
  };

  beforeAll(async () => {
    const transport = postgresTransport(newPool(), { table });
    await transport.migrate();
    await transport.migrate(); // idempotent
  });

  afterAll(async () => {
    await pools[0]?.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups"`);
    for (const pool of pools) await pool.end();
  });

  it('exports its SQL rendered for the tables', () => {
    const sql = postgresTransportSql({ table: 'app.messages' });
    expect(sql.migrate).toContain('CREATE TABLE IF NOT EXISTS "app"."messages"');
    expect(sql.migrate).toContain('"app"."messages_groups"');
    expect(sql.claim).toContain('FOR UPDATE SKIP LOCKED');
  });

  it('rejects invalid options, listing every problem', () => {
    expect(() =>
      postgresTransport(newPool(1), { table: 'bad name;', visibilityTimeoutMs: 0, pollIntervalMs: -1 }),
    ).toThrowError(InvalidOptionsError);
    try {
      postgresTransport(newPool(1), { table: 'x', visibilityTimeoutMs: 0, pollIntervalMs: -1, channel: 'no-dash' });
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toHaveLength(3);
    }
  });

  it('wakes a subscriber of another process through NOTIFY, long before its poll', async () => {
    const topic = uniqueName('notify');
    const consumerSide = postgresTransport(newPool(), { table, pollIntervalMs: 60_000 });
    const producerSide = postgresTransport(newPool(), { table, pollIntervalMs: 60_000 });
    const seen: number[] = [];
    await consumerSide.subscribe(topic, 'g', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    await sleep(300); // the LISTEN connection is up
    await producerSide.publish(topic, [envelope(1)]);
    const waited = await eventually(() => seen.length === 1, 5_000);
    expect(waited).toBeLessThan(2_000);
    await producerSide.publish(topic, [envelope(2), envelope(3)]);
    await eventually(() => seen.length === 3, 5_000);
    expect(seen).toEqual([1, 2, 3]);
    await consumerSide.close();
    await producerSide.close();
  });

  it('works by polling alone with listen: false', async () => {
    const topic = uniqueName('poll');
    const pool = newPool();
    const transport = postgresTransport(pool, { table, listen: false, pollIntervalMs: 100 });
    const other = postgresTransport(newPool(), { table, listen: false });
    const seen: number[] = [];
    await transport.subscribe(topic, 'g', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    await other.publish(topic, [envelope(1)]);
    await eventually(() => seen.length === 1, 5_000);
    await transport.close();
    await other.close();
  });

  it('holds what is published before a topic has a group, and hands it to the first group declared', async () => {
    const topic = uniqueName('declared');
    const pool = newPool();
    const producer = postgresTransport(pool, { table });
    const consumer = postgresTransport(pool, { table });
    await producer.publish(topic, [envelope(0, 'k'), envelope(1)]); // no group yet: held, not dropped
    expect((await producer.snapshot()).find((group) => group.topic === topic)).toMatchObject({ group: '', ready: 2 });
    await consumer.declareGroup(topic, 'late');
    await producer.publish(topic, [envelope(2, 'k')]);
    const depths = (await producer.snapshot()).filter((group) => group.topic === topic);
    expect(depths).toEqual([expect.objectContaining({ group: 'late', ready: 3, invisible: 0 })]);
    const seen: number[] = [];
    await consumer.subscribe(topic, 'late', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    await eventually(() => seen.length === 3, 5_000);
    expect(seen).toEqual([0, 1, 2]);
    await producer.close();
    await consumer.close();
  });

  it('hands over a message held by a publish that raced the creation of the first group (idle repair)', async () => {
    const topic = uniqueName('raced');
    const pool = newPool();
    const transport = postgresTransport(pool, { table, pollIntervalMs: 100 });
    const seen: number[] = [];
    await transport.subscribe(topic, 'g', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    // What a publish that saw no group and committed after the group's adoption leaves behind.
    await pool.query(`INSERT INTO "${table}" (topic, group_name, message_id, body) VALUES ($1, '', $2, $3)`, [
      topic,
      'raced-1',
      Buffer.from(JSON.stringify(envelope(7))),
    ]);
    await eventually(() => seen.length === 1, 5_000);
    expect(seen).toEqual([7]);
    await transport.close();
  });

  it('reports background errors as BulwarkWarning process warnings when no onError is given', async () => {
    const { warnings, stop } = collectProcessWarnings('BulwarkWarning');
    const topic = uniqueName('unreadable');
    const transport = postgresTransport(newPool(), { table, pollIntervalMs: 100 });
    try {
      await transport.subscribe(topic, 'g', async () => {});
      await newPool(1).query(
        `INSERT INTO "${table}" (topic, group_name, message_id, body) VALUES ($1, 'g', 'junk', $2)`,
        [topic, Buffer.from('not json')],
      );
      await eventually(() => warnings.length >= 1, 5_000);
      expect(warnings[0]?.code).toBe('BULWARK_BACKGROUND_ERROR');
      expect(warnings[0]?.message).toMatch(/^postgresTransport: /);
    } finally {
      stop();
      await transport.close();
    }
  });

  it("refuses the group name '' (it marks held messages)", async () => {
    const transport = postgresTransport(newPool(), { table });
    await expect(transport.declareGroup(uniqueName('t'), '')).rejects.toBeInstanceOf(InvalidOptionsError);
    await transport.close();
  });

  it('takes its LISTEN connection from the pool and gives it back on close', async () => {
    const pool = newPool(3);
    const transport = postgresTransport(pool, { table });
    await transport.subscribe(uniqueName('listen'), 'g', async () => {});
    await eventually(() => pool.totalCount - pool.idleCount === 1, 5_000);
    await transport.close();
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('keeps rows behind the head of their key out of the claim index (blocked), unblocking the next on ack', async () => {
    const topic = uniqueName('blocked');
    const pool = newPool();
    const transport = postgresTransport(pool, { table, pollIntervalMs: 100 });
    await transport.declareGroup(topic, 'g');
    const keyed = (index: number) => createEnvelope({ topic, type: 'x', payload: { index }, key: 'hot' });
    await transport.publish(topic, [keyed(1), keyed(2)]);
    await transport.publish(topic, [keyed(3)]);
    const flags = async () =>
      (
        await pool.query<{ blocked: boolean }>(`SELECT blocked FROM "${table}" WHERE topic = $1 ORDER BY id`, [topic])
      ).rows.map((row) => row.blocked);
    expect(await flags()).toEqual([false, true, true]);
    const held: Delivery[] = [];
    await transport.subscribe(
      topic,
      'g',
      (delivery) => {
        held.push(delivery);
        return new Promise<void>(() => {});
      },
      { prefetch: 5 },
    );
    await eventually(() => held.length === 1, 5_000);
    await held[0]?.ack();
    expect(await flags()).toEqual([false, true]);
    await eventually(() => held.length === 2, 5_000);
    expect(held.map((delivery) => (delivery.message.payload as { index: number }).index)).toEqual([1, 2]);
    await transport.close({ deadlineMs: 0 });
  });

  it('repairs a head left blocked by a publish racing the ack of its predecessor', async () => {
    const topic = uniqueName('repair');
    const pool = newPool();
    const transport = postgresTransport(pool, { table, pollIntervalMs: 100 });
    await transport.declareGroup(topic, 'g');
    await transport.publish(topic, [createEnvelope({ topic, type: 'x', payload: { index: 1 }, key: 'k' })]);
    // The race's outcome: the only row of its key, yet blocked.
    await pool.query(`UPDATE "${table}" SET blocked = true WHERE topic = $1`, [topic]);
    const seen: number[] = [];
    await transport.subscribe(topic, 'g', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    await eventually(() => seen.length === 1, 5_000);
    await transport.close();
  });

  it('shares one statement between publishes of the same tick, in call order, and isolates a failing call', async () => {
    const topic = uniqueName('batched');
    const pool = newPool();
    const transport = postgresTransport(pool, { table, pollIntervalMs: 100 });
    await transport.declareGroup(topic, 'g');
    const keyed = (index: number) => createEnvelope({ topic, type: 'x', payload: { index }, key: 'k' });
    const outcomes = await Promise.allSettled([
      transport.publish(topic, [keyed(1), keyed(2)]),
      transport.publish('bad\u0000topic', [keyed(99)]),
      transport.publish(topic, [keyed(3)]),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const seen: number[] = [];
    await transport.subscribe(topic, 'g', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    await eventually(() => seen.length === 3, 5_000);
    expect(seen).toEqual([1, 2, 3]);
    await transport.close();
  });

  it('has the server plan a lone publish only while it tries custom plans, keyed or not', async () => {
    // One connection, so every statement is prepared and planned in the session read below.
    const { topic, sql, pool, transport } = await quietGroup('plans', 1);
    const plans = async (text: string) => {
      const { rows } = await pool.query<{ generic_plans: string; custom_plans: string }>(
        'SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1',
        [text],
      );
      return rows[0];
    };
    // PostgreSQL plans a prepared statement five times for its parameters, then keeps its generic
    // plan unless those were cheaper. A NULL key made them cheaper: planned at every publish.
    for (let index = 1; index <= 10; index++) await transport.publish(topic, [envelope(index)]);
    expect(await plans(sql.publishOne)).toEqual({ custom_plans: '5', generic_plans: '5' });
    for (let index = 1; index <= 10; index++) await transport.publish(topic, [envelope(index, 'k')]);
    expect(await plans(sql.publishOneKeyed)).toEqual({ custom_plans: '5', generic_plans: '5' });
    await transport.close();
  });

  it('says a claim left more only for rows after its last one, not for rows another claim holds', async () => {
    const { topic, sql, pool, transport } = await quietGroup('more', 2);
    await transport.publish(topic, [envelope(1), envelope(2)]);
    await transport.publish(topic, [envelope(3)]);
    const ids = (
      await pool.query<{ id: string }>(`SELECT id FROM "${table}" WHERE topic = $1 ORDER BY id`, [topic])
    ).rows.map((row) => row.id);
    const claim = async (most: number) =>
      (await pool.query<{ id: string; more: boolean }>(sql.claim, [topic, 'g', most, 30_000, 'off'])).rows.map(
        ({ id, more }) => ({ id, more }),
      );
    // Another subscriber is claiming the oldest row: its lock is held, the row still visible.
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT id FROM "${table}" WHERE id = $1 FOR UPDATE`, [ids[0]]);
      expect(await claim(1)).toEqual([{ id: ids[1], more: true }]);
      // The row after it was left: more. Now only the locked one is, which this subscriber cannot have.
      expect(await claim(1)).toEqual([{ id: ids[2], more: false }]);
    } finally {
      await other.query('ROLLBACK');
      other.release();
    }
    await transport.close();
  });

  it('hands messages on one at a time with one claim each and no empty claim between them, never polling', async () => {
    const topic = uniqueName('one-at-a-time');
    const sql = postgresTransportSql({ table });
    const consumerPool = newPool();
    const producerPool = newPool();
    const consumerSide = postgresTransport(consumerPool, { table, pollIntervalMs: 60_000 });
    const producerSide = postgresTransport(producerPool, { table, pollIntervalMs: 60_000, notifyInPublish: true });
    const consumerQueries = vi.spyOn(consumerPool, 'query');
    const producerQueries = vi.spyOn(producerPool, 'query');
    const sent = (spy: typeof consumerQueries, text: string) =>
      spy.mock.calls.filter(([config]) => (config as { text?: string }).text === text).length;
    const seen: number[] = [];
    await consumerSide.subscribe(
      topic,
      'g',
      async ({ message }) => {
        seen.push((message.payload as { index: number }).index);
      },
      { prefetch: 1 },
    );
    for (let index = 1; index <= 5; index++) {
      await producerSide.publish(topic, [envelope(index)]);
      await eventually(() => seen.length === index, 5_000);
    }
    // A backlog: a run of one key (each ack unblocks the next) and two unkeyed messages behind it.
    await producerSide.publish(topic, [
      envelope(6, 'k'),
      envelope(7, 'k'),
      envelope(8, 'k'),
      envelope(9),
      envelope(10),
    ]);
    await eventually(() => seen.length === 10, 5_000);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // One claim per message, plus the first one and at most one for the LISTEN connection coming up
    // (a claim after every handler, finding nothing, made it about two per message).
    expect(sent(consumerQueries, sql.claim)).toBeLessThanOrEqual(12);
    // Each publish found no other in flight, so it notified in its own statement.
    expect(sent(producerQueries, sql.notify)).toBe(0);
    // By default a publish leaves the wake-up to a NOTIFY of its own, so commits share fsyncs.
    const defaults = postgresTransport(producerPool, { table, pollIntervalMs: 60_000 });
    await defaults.publish(topic, [envelope(11)]);
    await eventually(() => seen.length === 11, 5_000);
    expect(sent(producerQueries, sql.notify)).toBe(1);
    await defaults.close();
    await consumerSide.close();
    await producerSide.close();
  });
});
