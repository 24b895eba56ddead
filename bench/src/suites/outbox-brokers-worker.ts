// One process of the outbox.to-brokers fleet rows (outbox-brokers.bench.ts starts three): a relay of
// the fleet, or one of three hand-written publishers of the floor. A fleet in real life is separate
// processes; three relays in one process would share one event loop and could not gain on the
// client side.
//
// Prints `ready` once it can start (a relay: it holds its share of the partitions; a publisher: its
// envelopes are built and its connection is open). A publisher publishes its envelopes on every
// SIGUSR1 (once per round; the processes live through every round, warm). For every publish
// the broker accepted it prints `accepted <messages> <hrtime ns> <CPU µs since ready>` (hrtime is
// CLOCK_MONOTONIC, one clock for every process of the machine). On SIGUSR2 it prints `cpu <CPU µs
// since ready>`. Stops on SIGTERM.
import { existsSync, readFileSync } from 'node:fs';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { joinCpuBudget } from './cpu-budget.js';
import {
  amqpBenchTransport,
  benchEnvelopes,
  countingTransport,
  publishFloor,
  redisBenchTransport,
} from './outbox-brokers-publishing.js';
import { commitStampFile, RelayTimeline } from './outbox-brokers-timeline.js';

const role = process.env.BENCH_ROLE === 'relay' ? 'relay' : 'floor';
const broker = process.env.BENCH_BROKER === 'amqp' ? 'amqp' : 'redis-streams';
/** The relay's outbox table, or the floor's stream or queue. */
const target = process.env.BENCH_TARGET ?? '';
/** The relay's Redis key prefix or AMQP exchange (the parent declared the group there). */
const destination = process.env.BENCH_DESTINATION ?? '';
/** Messages a floor publisher publishes. */
const messages = Number(process.env.BENCH_MESSAGES ?? 0);
const fleetSize = Number(process.env.BENCH_FLEET ?? 3);
const partitions = Number(process.env.BENCH_PARTITIONS ?? 12);
const publishConcurrency = Number(process.env.BENCH_PUBLISH_CONCURRENCY ?? 8);
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
/** A directory to write the relay's timeline to (outbox-brokers-timeline.ts), if any. */
const timelineDirectory = process.env.BENCH_TIMELINE;
/** The process's CPU budget in cores (cpu-budget.ts), if any. */
const cpuBudget = process.env.BENCH_RELAY_CPU === undefined ? undefined : Number(process.env.BENCH_RELAY_CPU);
const leaveCpuBudget = cpuBudget === undefined ? () => {} : joinCpuBudget(cpuBudget);

let cpuAtReady = process.cpuUsage();
const accepted = (count: number) => {
  const cpu = process.cpuUsage(cpuAtReady);
  process.stdout.write(`accepted ${count} ${process.hrtime.bigint()} ${cpu.user + cpu.system}\n`);
};
const ready = () => {
  cpuAtReady = process.cpuUsage();
  process.stdout.write('ready\n');
};
const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
// The CPU used so far, asked for at the start of a round: the idle time between rounds is not the round's.
process.on('SIGUSR2', () => {
  const cpu = process.cpuUsage(cpuAtReady);
  process.stdout.write(`cpu ${cpu.user + cpu.system}\n`);
});

if (role === 'relay') {
  const { transport, dispose } =
    broker === 'redis-streams' ? redisBenchTransport(destination) : amqpBenchTransport(destination);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const timeline = timelineDirectory === undefined ? undefined : new RelayTimeline(timelineDirectory);
  if (timeline && timelineDirectory !== undefined) {
    timeline.watch(pool);
    const markRound = () => {
      const file = commitStampFile(timelineDirectory, target);
      timeline.mark(existsSync(file) ? BigInt(readFileSync(file, 'utf8').trim()) : undefined);
    };
    process.on('SIGUSR2', markRound);
    process.once('SIGTERM', markRound);
  }
  const counting = countingTransport(transport, accepted);
  const relay = postgresOutbox(pool, { table: target }).relay({
    transport: timeline ? timeline.transport(counting) : counting,
    publishConcurrency,
    partitions,
  });
  // A fleet's member is ready with its share; a relay alone (partitions 1) once it leads.
  const isReady = () =>
    partitions === 1
      ? relay.snapshot().role === 'leader'
      : relay.snapshot().partitions?.length === partitions / fleetSize;
  while (!isReady()) await new Promise((resolve) => setTimeout(resolve, 10));
  ready();
  await stopped;
  await relay.close();
  await dispose();
  await pool.end();
} else {
  const envelopes = benchEnvelopes(messages);
  // Listening before anything is awaited: a SIGUSR1 with no listener starts Node's inspector.
  const rounds: (() => void)[] = [];
  process.on('SIGUSR1', () => {
    for (const round of rounds) round();
  });
  let publish: () => Promise<void>;
  let close: () => Promise<void>;
  if (broker === 'redis-streams') {
    const redis = new Redis(redisUrl);
    await redis.ping();
    publish = () => publishFloor({ redis, stream: target }, envelopes, accepted);
    close = async () => redis.disconnect();
  } else {
    const connection = await amqp.connect(amqpUrl, { noDelay: true });
    const channel = await connection.createConfirmChannel();
    publish = () => publishFloor({ channel, queue: target }, envelopes, accepted);
    close = () => connection.close();
  }
  ready();
  // One run of the envelopes per SIGUSR1 (one per round), until SIGTERM.
  let running = Promise.resolve();
  rounds.push(() => {
    running = running.then(publish);
  });
  await stopped;
  await running;
  await close();
}
leaveCpuBudget();
process.exit(0);
