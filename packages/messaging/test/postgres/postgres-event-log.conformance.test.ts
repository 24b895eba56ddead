import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEnvelope } from '../../src/envelope/envelope.js';
import { type EventLogCursor, eventLogStart, type LoggedEvent } from '../../src/event-log/event-log.js';
import { type PostgresEventLog, postgresEventLog, postgresEventLogSql } from '../../src/postgres/postgres-event-log.js';
import { postgresOutbox } from '../../src/postgres/postgres-outbox.js';
import { eventLogConformance } from '../../src/testing/index.js';

/**
 * Reads after `after` until `count` events are readable: the visibility horizon spans the whole
 * cluster, which other suites share, so a committed event may wait for their open transactions.
 */
async function readAtLeast(log: PostgresEventLog, count: number, after: EventLogCursor = eventLogStart) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const events = await log.read({ after, limit: 1_000 });
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

await describeWithServers('postgresEventLog', ['postgres'], ({ postgres: url }) => {
  let pool: pg.Pool;
  const tables: string[] = [];
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 12 });
  });
  afterAll(async () => {
    for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_checkpoints"`);
    await pool.end();
  });
  const freshLog = async () => {
    const table = uniqueName('events');
    tables.push(table);
    const log = postgresEventLog(pool, { table });
    await log.migrate();
    return log;
  };
  const begin = async () => {
    const client = await pool.connect();
    await client.query('BEGIN');
    let ended = false;
    const end = async (statement: string) => {
      if (ended) return;
      ended = true;
      try {
        await client.query(statement);
      } finally {
        client.release();
      }
    };
    return { executor: client, commit: () => end('COMMIT'), rollback: () => end('ROLLBACK') };
  };

  eventLogConformance('postgres', async () => ({ log: await freshLog(), begin }), { propertyRuns: 20 });

  it('holds readers at a transaction held open, then hands them its events in order, skipping none', async () => {
    const log = await freshLog();
    const held = await begin();
    await log.append(held.executor, { stream: 'held', type: 'held', data: 0 });
    // Later transactions commit while the first is still open.
    for (let index = 1; index <= 3; index++) {
      const transaction = await begin();
      await log.append(transaction.executor, { stream: 'later', type: 'later', data: index });
      await transaction.commit();
    }
    // Their events exist (a stream read shows committed rows) but sit above the horizon.
    expect((await log.readStream('later')).length).toBe(3);
    expect(await log.read()).toEqual([]);
    expect(await log.head()).toEqual(eventLogStart);
    await held.commit();
    const events = await readAtLeast(log, 4);
    expect(events.map((event) => event.data)).toEqual([0, 1, 2, 3]);
    await log.close();
  });

  it('a reader that passed a position does not skip a transaction that took an earlier position and commits late', async () => {
    const log = await freshLog();
    await (async () => {
      const first = await begin();
      await log.append(first.executor, { stream: 's', type: 'before', data: 'before' });
      await first.commit();
    })();
    const seen: LoggedEvent[] = await readAtLeast(log, 1);
    let cursor: EventLogCursor = seen[seen.length - 1] as LoggedEvent;
    // `slow` takes its position first, `fast` a later one and commits first.
    const slow = await begin();
    await log.append(slow.executor, { stream: 's', type: 'slow', data: 'slow' });
    const fast = await begin();
    await log.append(fast.executor, { stream: 's', type: 'fast', data: 'fast' });
    await fast.commit();
    const stream = await log.readStream('s');
    expect(stream.map((event) => event.data)).toEqual(['before', 'fast']);
    const early = await log.read({ after: cursor });
    expect(early).toEqual([]);
    await slow.commit();
    for (const event of await readAtLeast(log, 2, cursor)) {
      seen.push(event);
      cursor = event;
    }
    expect(seen.map((event) => event.data)).toEqual(['before', 'slow', 'fast']);
    // positions: slow's is lower than fast's although it committed later
    expect((seen[1] as LoggedEvent).position).toBeLessThan((seen[2] as LoggedEvent).position);
    await log.close();
  });

  it('appends through a function executor as well', async () => {
    const log = await freshLog();
    const transaction = await begin();
    await log.append(
      (text, values) => transaction.executor.query(text, values),
      [{ stream: 's', type: 't', data: { a: 1 } }],
    );
    await transaction.commit();
    expect((await readAtLeast(log, 1)).map((event) => event.data)).toEqual([{ a: 1 }]);
    await log.close();
  });

  it('migrates from several instances at once, and renders SQL for a schema-qualified table', async () => {
    const table = uniqueName('events');
    tables.push(table);
    await Promise.all(Array.from({ length: 4 }, () => postgresEventLog(pool, { table }).migrate()));
    const sql = postgresEventLogSql({ table: 'app.events' });
    expect(sql.table).toBe('"app"."events"');
    expect(sql.checkpoints).toBe('"app"."events_checkpoints"');
    expect(() => postgresEventLogSql({ table: 'events; DROP TABLE x' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
  });

  it('loses the projection lease when its connection dies, and another runner takes it', async () => {
    const log = await freshLog();
    const lease = await log.projections.tryAcquire('p');
    expect(lease).toBeDefined();
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = (hashtextextended($1, 0) & 4294967295)::oid`,
      [`bulwark.projection:${log.sql.checkpoints}:p`],
    );
    expect(rows.length).toBe(1);
    await pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    await lease?.lost;
    await expect(lease?.transaction(async () => 1)).rejects.toMatchObject({ code: 'PROJECTION_LEASE_LOST' });
    const next = await log.projections.tryAcquire('p');
    expect(next).toBeDefined();
    await next?.release();
    await log.close();
  });

  it('keeps what the outbox is given when the outbox has keep, in the same transaction', async () => {
    const log = await freshLog();
    const outboxTable = uniqueName('outbox_keep');
    tables.push(outboxTable, `${outboxTable}_relay`);
    const outbox = postgresOutbox(pool, { table: outboxTable, keep: log });
    await outbox.migrate();
    const kept = await begin();
    await outbox.add(kept.executor, [
      createEnvelope({ topic: 'orders', type: 'order.placed', key: 'order-1', payload: { total: 30 } }),
      createEnvelope({ topic: 'orders', type: 'order.audited', payload: { by: 'ops' } }),
    ]);
    await kept.commit();
    const rolledBack = await begin();
    await outbox.add(rolledBack.executor, createEnvelope({ topic: 'orders', type: 'order.gone', payload: 1 }));
    await rolledBack.rollback();
    const events = await readAtLeast(log, 2);
    expect(events.map((event) => [event.stream, event.type, event.data, event.headers.topic])).toEqual([
      ['order-1', 'order.placed', { total: 30 }, 'orders'],
      ['orders', 'order.audited', { by: 'ops' }, 'orders'],
    ]);
    expect((await outbox.lag()).pending).toBe(2);
    await pool.query(`DROP FUNCTION IF EXISTS "${outboxTable}_notify"() CASCADE`);
    await outbox.close();
    await log.close();
  });

  it('reads in transaction id order, not in the text order of the ids (regression: ORDER BY took the text alias)', async () => {
    const log = await freshLog();
    // Ended transaction ids far below the horizon, written directly: 9 < 10 < 100, but '10' < '100' < '9'.
    await pool.query(
      `INSERT INTO ${log.sql.table} (transaction_id, id, stream, type, data)
       VALUES ('100', 'c', 's', 't', '3'), ('9', 'a', 's', 't', '1'), ('10', 'b', 's', 't', '2')`,
    );
    expect((await log.read()).map((event) => event.id)).toEqual(['a', 'b', 'c']);
    expect(
      (await log.read({ after: { transactionId: 9, position: Number.MAX_SAFE_INTEGER } })).map((event) => event.id),
    ).toEqual(['b', 'c']);
    expect((await log.head()).transactionId).toBe(100);
    await log.close();
  });
});
