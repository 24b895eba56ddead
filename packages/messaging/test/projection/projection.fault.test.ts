import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, startTypeScriptChild, type TypeScriptChild, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresEventLog } from '../../src/postgres/postgres-event-log.js';

const here = dirname(fileURLToPath(import.meta.url));
const runnerScript = join(here, 'fixtures/projection-child.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RunnerChild extends TypeScriptChild {
  leading: boolean;
  /** Resolves at the next `batch` line once asked for. */
  nextBatch(): Promise<void>;
}

function startRunner(url: string, table: string, readModel: string): RunnerChild {
  const waiting: Array<() => void> = [];
  const started = startTypeScriptChild(runnerScript, {
    args: [url, table, readModel],
    stderrLabel: 'projection',
    onLine: (line) => {
      if (line === 'leader') runner.leading = true;
      if (line === 'batch') for (const resolve of waiting.splice(0)) resolve();
    },
  });
  const runner: RunnerChild = {
    ...started,
    leading: false,
    nextBatch: () => new Promise<void>((resolve) => waiting.push(resolve)),
  };
  return runner;
}

await describeWithServers('projection under SIGKILL', ['postgres'], ({ postgres: url }) => {
  let pool: pg.Pool;
  const table = uniqueName('events_kill');
  const readModel = `${table}_applied`;
  const children: RunnerChild[] = [];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 6 });
    await postgresEventLog(pool, { table }).migrate();
  });
  afterAll(async () => {
    for (const runner of children) runner.child.kill('SIGKILL');
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_checkpoints", "${readModel}"`);
    await pool.end();
  });

  it('applies every event exactly once although leaders are killed mid-batch, while events keep arriving', async () => {
    const log = postgresEventLog(pool, { table });
    let appended = 0;
    const append = async (count: number) => {
      await withTransaction(pool, (client) =>
        log.append(
          client,
          Array.from({ length: count }, (_, index) => ({
            id: `event-${appended + index}`,
            stream: `s-${(appended + index) % 13}`,
            type: 't',
            data: appended + index,
          })),
        ),
      );
      appended += count;
    };
    for (let batch = 0; batch < 40; batch++) await append(25);
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await append(5);
        await sleep(10);
      }
    })();

    children.push(startRunner(url, table, readModel), startRunner(url, table, readModel));
    let kills = 0;
    for (let round = 0; round < 5; round++) {
      const deadline = Date.now() + 30_000;
      let leader = children.find((child) => child.leading && child.child.exitCode === null && !child.child.killed);
      while (!leader && Date.now() < deadline) {
        await sleep(20);
        leader = children.find((child) => child.leading && child.child.exitCode === null && !child.child.killed);
      }
      expect(leader, 'a runner leads').toBeDefined();
      if (!leader) break;
      // Kill in the middle of a batch: its rows are written, its checkpoint is not stored yet.
      // After a few committed batches, so that progress is handed over too.
      for (let batch = 0; batch < 3 + (round % 3); batch++) await leader.nextBatch();
      leader.child.kill('SIGKILL');
      kills++;
      children.push(startRunner(url, table, readModel));
    }
    writing = false;
    await writer;
    expect(kills).toBe(5);

    // Every committed event applied once, after the survivors caught up.
    const deadline = Date.now() + 60_000;
    let applied = 0;
    while (Date.now() < deadline) {
      const { rows } = await pool.query<{ applied: number }>(`SELECT count(*)::int AS applied FROM "${readModel}"`);
      applied = rows[0]?.applied ?? 0;
      if (applied >= appended) break;
      await sleep(100);
    }
    const { rows } = await pool.query<{ total: number; distinct_ids: number; runners: number }>(
      `SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct_ids, count(DISTINCT runner)::int AS runners FROM "${readModel}"`,
    );
    expect(rows[0]).toMatchObject({ total: appended, distinct_ids: appended });
    expect(rows[0]?.runners).toBeGreaterThanOrEqual(2);
  });
});
