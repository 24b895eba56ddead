// A short run of `pnpm --filter simple-eshop chaos`: the shop as a process of its own under
// order traffic while its database connections are cut every 4–5 s (pg_terminate_backend and the
// fault proxy by turns) and private PostgreSQL, Redis and RabbitMQ servers restart once each
// (Redis and RabbitMQ as SHOP_TEST_BROKERS asks). The shop must never die, answer 503 from
// /health/ready while a server is down and 200 once it is back, and keep the books exact.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCI, privateRabbitMqUnavailable } from '@bulwark/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChaosBrokers, runChaos } from '../src/chaos/chaos-run.js';
import { chaosSummary } from '../src/chaos/chaos-summary.js';
import { expectShopSurvived } from './chaos-expectations.js';

const requested = process.env.SHOP_TEST_BROKERS;
const brokers: ChaosBrokers = requested === 'amqp' ? 'amqp' : requested === 'redis' ? 'redis' : 'none';
const unavailable = brokers === 'amqp' ? privateRabbitMqUnavailable() : undefined;
if (unavailable) {
  if (isCI()) throw new Error(`[shop chaos] cannot run under CI: ${unavailable}`);
  console.warn(`\n!!!!! SKIPPED SUITE "shop chaos (${brokers})": ${unavailable} !!!!!\n`);
}

describe.skipIf(unavailable !== undefined)(
  `shop chaos (PostgreSQL${brokers === 'none' ? '' : ` + ${brokers}`})`,
  () => {
    let dataDir: string | undefined;
    afterAll(async () => {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('survives cut connections and server restarts with the books exact', async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'shop-chaos-test-'));
      const report = await runChaos({
        dataDir,
        database: 'private',
        brokers,
        durationMs: 15_000,
        shoppers: 6,
        log: (line) => console.log(line),
      });
      expectShopSurvived(report);
      const summary = chaosSummary(report);
      const kinds = report.faults.map((fault) => fault.kind);
      expect(kinds, summary).toContain('backends-terminated');
      expect(kinds, summary).toContain('postgres-restart');
      if (brokers !== 'none') expect(kinds, summary).toContain('redis-restart');
      if (brokers === 'amqp') expect(kinds, summary).toContain('rabbitmq-restart');
      // Not ready while a server was down, ready again once it was back (timeUntilReady waited for it).
      for (const restart of report.faults.filter((fault) => fault.kind.endsWith('restart')))
        expect(restart.readyWhileDown, `${restart.kind}\n${summary}`).toBe(503);
    }, 240_000);
  },
);
