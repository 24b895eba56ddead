// `pnpm --filter simple-eshop chaos`: the shop as a process of its own under order traffic while
// its database connections are cut every 4–5 s and its servers restart (private instances the
// run starts: PostgreSQL, and Redis / RabbitMQ with CHAOS_BROKERS), then the books are checked.
// Exits 1 if the shop died or an invariant failed.
//   CHAOS_DURATION_MS (60000), CHAOS_SHOPPERS (8), CHAOS_BROKERS (none | redis | amqp; default none)
//   CHAOS_CUTS (alternate | terminate | proxy): how connections are cut (pg_terminate_backend,
//   the fault proxy, or both by turns)
//   CHAOS_DATABASE_URL: cut the connections of that database instead of a private server (no restart)
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopEmbeddedPostgres } from '../infrastructure/database.js';
import { onStopSignal } from '../stop-signal.js';
import { type ChaosBrokers, runChaos } from './chaos-run.js';
import { chaosSummary } from './chaos-summary.js';

const brokers = (process.env.CHAOS_BROKERS || 'none') as ChaosBrokers;
if (!['none', 'redis', 'amqp'].includes(brokers)) {
  console.error(`chaos: CHAOS_BROKERS must be none, redis or amqp; got "${brokers}"`);
  process.exit(2);
}
const durationMs = Number(process.env.CHAOS_DURATION_MS ?? 60_000);
const shoppers = Number(process.env.CHAOS_SHOPPERS ?? 8);
if (!(durationMs > 0) || !Number.isInteger(shoppers) || shoppers < 1) {
  console.error('chaos: CHAOS_DURATION_MS must be a positive number and CHAOS_SHOPPERS a whole number ≥ 1');
  process.exit(2);
}

const cuts = (process.env.CHAOS_CUTS || 'alternate') as 'alternate' | 'terminate' | 'proxy';
if (!['alternate', 'terminate', 'proxy'].includes(cuts)) {
  console.error(`chaos: CHAOS_CUTS must be alternate, terminate or proxy; got "${cuts}"`);
  process.exit(2);
}
const dataDir = mkdtempSync(join(tmpdir(), 'shop-chaos-'));
// Ctrl-C ends the run before its cleanup; the private PostgreSQL runs in a session of its own
// (the terminal's SIGINT does not reach it), so stop it and remove its data on the way out.
onStopSignal(async (signal) => {
  console.log(`\n[chaos] ${signal}: stopping the private PostgreSQL`);
  await stopEmbeddedPostgres(dataDir).catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(128 + constants.signals[signal]);
});
try {
  const report = await runChaos({
    dataDir,
    database: process.env.CHAOS_DATABASE_URL ? { url: process.env.CHAOS_DATABASE_URL } : 'private',
    brokers,
    durationMs,
    shoppers,
    cuts,
    log: (line) => console.log(`[chaos] ${line}`),
  });
  console.log(`\n${chaosSummary(report)}`);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
