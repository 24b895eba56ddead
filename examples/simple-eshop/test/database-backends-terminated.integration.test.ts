// Regression for issue #15: the shop on a real PostgreSQL (DATABASE_URL) under steady order
// traffic while every one of its backends is ended with pg_terminate_backend every 4–5 s. It used
// to die within seconds of the first round ("Unhandled 'error' event ... 57P01") because a pg
// client checked out of the pool had no `error` listener; the process must stay up and the
// books stay exact.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { runChaos } from '../src/chaos/chaos-run.js';
import { chaosSummary } from '../src/chaos/chaos-summary.js';
import { expectShopSurvived } from './chaos-expectations.js';

await describeWithServers('the shop while its database backends are terminated', ['postgres'], ({ postgres }) => {
  const name = uniqueName('shop_terminated');
  const url = new URL(postgres);
  url.pathname = `/${name}`;
  let dataDir: string | undefined;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: postgres });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  afterAll(async () => {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stays up, answers ready again after every round, and keeps the books exact', async () => {
    await admin(`CREATE DATABASE ${name}`);
    dataDir = await mkdtemp(join(tmpdir(), 'shop-terminated-'));
    const report = await runChaos({
      dataDir,
      database: { url: url.toString() },
      brokers: 'none',
      durationMs: 14_000,
      shoppers: 6,
      cuts: 'terminate',
      log: (line) => console.log(line),
      restarts: false,
    });
    expectShopSurvived(report);
    const summary = chaosSummary(report);
    const rounds = report.faults.filter((fault) => fault.kind === 'backends-terminated');
    expect(rounds.length, summary).toBeGreaterThanOrEqual(2);
    // Each round ended live backends of the shop (the pool had connections to lose).
    expect(
      rounds.every((round) => (round.connections ?? 0) > 0),
      summary,
    ).toBe(true);
  }, 180_000);
});
