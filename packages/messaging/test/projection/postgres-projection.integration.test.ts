import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresEventLog } from '../../src/postgres/postgres-event-log.js';
import { projection } from '../../src/projection/projection.js';
import type { ProjectionEvents } from '../../src/projection/projection-events.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function eventually(check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

await describeWithServers('projection on PostgreSQL', ['postgres'], ({ postgres: url }) => {
  let pool: pg.Pool;
  const dropped: string[] = [];
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 10 });
  });
  afterAll(async () => {
    for (const table of dropped) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  async function setUp() {
    const table = uniqueName('events_projection');
    const totalsTable = `${table}_totals`;
    dropped.push(table, `${table}_checkpoints`, totalsTable, `${totalsTable}_rebuild`);
    const log = postgresEventLog(pool, { table });
    await log.migrate();
    const append = async (events: Array<{ stream: string; amount: number }>) => {
      await withTransaction(pool, (client) =>
        log.append(
          client,
          events.map((event) => ({ stream: event.stream, type: 'sale', data: { amount: event.amount } })),
        ),
      );
    };
    const start = () =>
      projection({
        name: 'totals',
        source: log,
        batchSize: 50,
        pollIntervalMs: 20,
        standbyIntervalMs: 50,
        lagIntervalMs: 50,
        readModel: {
          table: totalsTable,
          async create({ executor, table: name }) {
            await executor.query(
              `CREATE TABLE IF NOT EXISTS "${name}" (stream text PRIMARY KEY, total bigint NOT NULL, sales int NOT NULL)`,
            );
          },
        },
        async handle(events, { executor, table: name }) {
          for (const event of events)
            await executor.query(
              `INSERT INTO "${name}" (stream, total, sales) VALUES ($1, $2, 1)
               ON CONFLICT (stream) DO UPDATE SET total = "${name}".total + $2, sales = "${name}".sales + 1`,
              [event.stream, (event.data as { amount: number }).amount],
            );
        },
      });
    const totals = async () =>
      (
        await pool.query<{ stream: string; total: string; sales: number }>(
          `SELECT stream, total, sales FROM "${totalsTable}" ORDER BY stream`,
        )
      ).rows.map((row) => [row.stream, Number(row.total), row.sales]);
    return { log, append, start, totals, totalsTable };
  }

  it('keeps the read model exactly in step, reports lag, and hands over to a standby', async () => {
    const { append, start, totals } = await setUp();
    for (let index = 0; index < 20; index++)
      await append(Array.from({ length: 10 }, (_, item) => ({ stream: `s${item % 4}`, amount: index + item })));
    const leader = start();
    const standby = start();
    const applied: ProjectionEvents['projection-batch-applied'][] = [];
    leader.on('projection-batch-applied', (event) => applied.push(event));
    await eventually(async () => leader.snapshot().applied === 200);
    expect(standby.snapshot().state).toBe('standby');
    await eventually(async () => leader.snapshot().lagEvents === 0);
    expect(leader.snapshot()).toMatchObject({ state: 'running', lagMs: 0, rebuilding: false });
    expect(applied.reduce((sum, event) => sum + event.count, 0)).toBe(200);
    // Items 0..9 of each append, by item % 4: three, three, two and two sales per append.
    const expected = (await totals()).map(([stream, total, sales]) => [stream, total, sales]);
    expect(expected.map((row) => row[2])).toEqual([60, 60, 40, 40]);

    await leader.close();
    await append([{ stream: 's0', amount: 1_000 }]);
    await eventually(async () => standby.snapshot().applied === 1);
    expect(standby.snapshot().state).toBe('running');
    const after = await totals();
    expect(after[0]).toEqual(['s0', Number(expected[0]?.[1]) + 1_000, 61]);
    await standby.close();
  });

  it('rebuilds into a fresh table while events keep arriving, and swaps without losing or doubling any', async () => {
    const { append, start, totals, totalsTable } = await setUp();
    let written = 0;
    const expected = new Map<string, number>();
    const write = async (count: number) => {
      const events = Array.from({ length: count }, (_, index) => ({
        stream: `s${(written + index) % 7}`,
        amount: written + index,
      }));
      await append(events);
      for (const event of events) expected.set(event.stream, (expected.get(event.stream) ?? 0) + event.amount);
      written += count;
    };
    for (let batch = 0; batch < 30; batch++) await write(20);
    const runner = start();
    await eventually(async () => runner.snapshot().applied === written);
    // Damage the live table: only a rebuild from the log can bring it back.
    await pool.query(`UPDATE "${totalsTable}" SET total = -1`);
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await write(3);
        await sleep(5);
      }
    })();
    const rebuilt: ProjectionEvents['projection-rebuilt'][] = [];
    runner.on('projection-rebuilt', (event) => rebuilt.push(event));
    await runner.rebuild();
    await sleep(100);
    writing = false;
    await writer;
    await eventually(async () => runner.snapshot().lagEvents === 0 && runner.snapshot().checkpoint !== undefined);
    await eventually(async () => (await totals()).reduce((sum, row) => sum + Number(row[2]), 0) === written);
    const rows = await totals();
    expect(Object.fromEntries(rows.map(([stream, total]) => [stream, total]))).toEqual(Object.fromEntries(expected));
    expect(rebuilt).toHaveLength(1);
    const { rows: leftovers } = await pool.query('SELECT 1 FROM pg_tables WHERE tablename = $1', [
      `${totalsTable}_rebuild`,
    ]);
    expect(leftovers).toEqual([]);
    await runner.close();
  });
});
