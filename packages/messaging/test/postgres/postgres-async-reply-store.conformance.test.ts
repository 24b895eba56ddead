import { asyncReply, memoryTransport } from '@bulwark/messaging';
import { postgresAsyncReplySql, postgresAsyncReplyStore } from '@bulwark/messaging/postgres';
import { asyncReplyStoreConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';

import { describeWithServers, uniqueName } from '@bulwark/test-support';

import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

await describeWithServers('postgresAsyncReplyStore', ['postgres'], ({ postgres: url }) => {
  let pool: pg.Pool;
  const tables: string[] = [];
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 8 });
  });
  afterAll(async () => {
    for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });
  const newStore = async () => {
    const table = uniqueName('async_reply');
    tables.push(table);
    const store = postgresAsyncReplyStore(pool, { table, sweepBatchSize: 2 });
    await store.migrate();
    return store;
  };

  asyncReplyStoreConformance('postgres', { createStore: newStore });

  it('migrates idempotently, also from several instances at once', async () => {
    const table = uniqueName('async_reply');
    tables.push(table);
    await Promise.all(Array.from({ length: 4 }, () => postgresAsyncReplyStore(pool, { table }).migrate()));
    await postgresAsyncReplyStore(pool, { table }).migrate();
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = $1', [table]);
    expect(rows[0].n).toBe(2);
  });

  it('sweeps in batches until every expired record is gone', async () => {
    const store = await newStore();
    for (let index = 0; index < 5; index++) {
      await store.create({ id: `x${index}`, kind: 'k', createdAt: 0, expiresAt: 10 });
    }
    await store.create({ id: 'kept', kind: 'k', createdAt: 0, expiresAt: 1_000 });
    expect(await store.sweepExpired(10)).toBe(5);
    expect(await store.get('kept', 10)).toBeDefined();
  });

  it('exports its SQL for other migration tools, and checks the table name', () => {
    const sql = postgresAsyncReplySql({ table: 'app.operations' });
    expect(sql.migrate).toContain('CREATE TABLE IF NOT EXISTS "app"."operations"');
    expect(sql.start).toContain('UPDATE "app"."operations"');
    expect(() => postgresAsyncReplySql({ table: 'bad; DROP TABLE x' })).toThrow(InvalidOptionsError);
  });

  it('runs asyncReply in worker mode on PostgreSQL, one run per operation across workers', async () => {
    const store = await newStore();
    const transport = memoryTransport({ ordering: 'none' });
    let runs = 0;
    const producer = asyncReply({ store, transport });
    const workers = Array.from({ length: 3 }, () =>
      asyncReply({ store, transport }).handle<{ n: number }, number>('double', async ({ n }) => {
        runs++;
        return n * 2;
      }),
    );
    for (const worker of workers) await worker.worker();
    const accepted = await Promise.all(Array.from({ length: 30 }, (_, n) => producer.accept('double', { n })));
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const states = await Promise.all(accepted.map(({ id }) => producer.status(id)));
      if (states.every((state) => state?.status === 'succeeded')) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const states = await Promise.all(accepted.map(({ id }) => producer.status<number>(id)));
    expect(states.map((state) => (state?.status === 'succeeded' ? state.result : undefined))).toEqual(
      Array.from({ length: 30 }, (_, n) => n * 2),
    );
    expect(runs).toBe(30);
    for (const worker of workers) await worker.close();
    await transport.close();
  });
});
