// The outbox relay publishing to real brokers, against the same broker's publish-with-confirm floor
// written by hand (issue #21: the relay's goal is >= 0.9x of that floor, and near-linear gain from 1 to 3
// relays where the broker allows).
//
// outbox.to-brokers — 20,000 committed outbox rows (~250-byte envelopes, 1,000 keys, one topic) drained
//   into the Redis Streams and AMQP (quorum queue) transports, a group declared so every message is
//   routable, by 1 relay (in this process) and by a fleet of 3 (`partitions: 12`), each relay in its
//   own process (outbox-brokers-worker.ts) as a fleet runs in real life, with its own pg pool and its
//   own broker connection, all publishing `publishConcurrency` calls at once (1,000 keys split the 12
//   partitions' rows within 2% of even among 3 relays; 100 keys gave them 27% / 34% / 39%). The
//   processes run the packages' built code under `bench:built` (their source under `bench`), and are
//   started once and live through every round (warm, like a running fleet). The relays are started on
//   the empty table and have taken their partitions before the rows are committed (in one INSERT); the
//   time runs from the moment that COMMIT returned until the transports have accepted the last message
//   (the processes stamp each accepted publish with CLOCK_MONOTONIC, the clock of process.hrtime in
//   every process).
//   ns/op is per message. The floors publish the same number of like envelopes (JSON) straight to the
//   broker, 500 per batch, waiting for the broker's answer before the next batch: ioredis pipelined
//   XADD to one stream; amqplib confirm channel + waitForConfirms to one quorum queue; by one
//   publisher in this process, and by 3 publishers in 3 processes (a third of the messages each, to
//   the same stream or queue: whether the broker itself gains from 3 publishers on this machine). The
//   floors read nothing from PostgreSQL: the gap between a relay and its floor is what reading and
//   deleting rows costs on top of publishing. Also printed: client CPU µs per message (all processes
//   of a row summed; process.cpuUsage, from the round's start: an idle relay's CPU between rounds is
//   left out), which load on the machine does not change much; and the whole machine's CPU µs per
//   message and cores busy over the round (/proc/stat: brokers and PostgreSQL included, and whatever
//   else runs), which say whether a row was bound by the machine's 2 cores.
//   Every row first runs 3 rounds that are not measured (BENCH_WARMUP_ROUNDS), so that the fleet's
//   processes, started cold, are measured warm like the relay of this process (and a running fleet).
//   BENCH_FLEET_SIZE=2 runs the fleet rows with 2 processes (a divisor of the 12 partitions).
//   BENCH_ONLY=<part of a row's name> runs only those rows; BENCH_TIMELINE=<directory> writes each
//   relay's timeline of every round there (outbox-brokers-timeline.ts: where a relay's time goes).
//   BENCH_OUTBOX_ROWS=<n> commits n rows per round instead of 20,000.
//   BENCH_RELAY_CPU=<cores> (root only) runs other rows: 1 relay and a fleet, every relay in a
//   process of its own held to that much CPU (cpu-budget.ts), as relays on hosts of their own. On
//   this 2-core machine one relay without a budget keeps most of it busy with PostgreSQL and the
//   broker, so the fleet rows above measure the machine; with budgets they measure how a fleet
//   scales while the machine has CPU left for PostgreSQL and the broker.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Transport } from '@bulwark/messaging';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { startTypeScriptChild, type TypeScriptChild } from '@bulwark/test-support';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { BenchmarkDefinition, SubjectResult } from '../harness.js';
import { fill } from './outbox.bench.js';
import {
  amqpBenchTransport,
  type BenchTransport,
  benchEnvelopes,
  countingTransport,
  type FloorDestination,
  publishFloor,
  redisBenchTransport,
} from './outbox-brokers-publishing.js';
import { commitStampFile, RelayTimeline } from './outbox-brokers-timeline.js';

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
/** Rows committed per round (BENCH_OUTBOX_ROWS to change). */
const rows = Number(process.env.BENCH_OUTBOX_ROWS ?? 20_000);
/** Measured rounds of every row (BENCH_ROUNDS to change). */
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/**
 * Rounds of every row run first and not measured: a fleet process starts cold. Over 7 rounds of the
 * Redis rows (load 14-21) the fleet's client CPU per message went 38, 33, 23, 23, 24, 17, 15 µs, the
 * relay's in this process 21, 22, 16, 23, 15, 15, 12: three cold rounds put the warm-up into the
 * fleet's figures.
 */
const warmupRounds = Number(process.env.BENCH_WARMUP_ROUNDS ?? 3);
/** Processes of the fleet rows (BENCH_FLEET_SIZE to change; a divisor of `partitions`). */
const fleetSize = Number(process.env.BENCH_FLEET_SIZE ?? 3);
const worker = fileURLToPath(new URL('./outbox-brokers-worker.ts', import.meta.url));
/** Outbox keys: 100 would give the 3 relays 27% / 34% / 39% of the rows, 1,000 within 2% of a third. */
const keys = 1_000;
/** The fleet's processes run what this one runs: the packages' source (`bench`) or their dist (`bench:built`). */
const onSource = process.execArgv.some((argument) => argument.includes('@bulwark/source'));
/** A directory for the relays' timelines (outbox-brokers-timeline.ts): where a round's time goes. */
const timelineDirectory = process.env.BENCH_TIMELINE;
if (timelineDirectory !== undefined) mkdirSync(timelineDirectory, { recursive: true });
/** Rows to run, by a part of their name (`redis`, `×3`...): all when unset. */
const only = process.env.BENCH_ONLY;

/**
 * A CPU budget per relay process, in cores (BENCH_RELAY_CPU=0.25, say; root only, cpu-budget.ts):
 * the rows are then a relay alone and a fleet, each relay in a process of its own with that much
 * CPU, as on hosts of their own. Without budgets, one relay already keeps most of this 2-core
 * machine busy (with PostgreSQL and the broker), and a fleet measures the machine; with them, it
 * measures whether the relays get in each other's way. No floors then.
 */
const relayCpu = process.env.BENCH_RELAY_CPU;

/** Publishes in flight per relay; the relay's default is 1 (one batch at a time). */
const publishConcurrency = 8;
/** Partitions of the fleet: 4 per relay with 3 relays. */
const partitions = 12;

/** One measured run: ns per message, and client CPU µs per message (every process of the run). */
interface Sample {
  readonly nsPerMessage: number;
  readonly cpuMicrosPerMessage: number;
  /** CPU µs per message of the whole machine (brokers and PostgreSQL included), from /proc/stat. */
  readonly machineCpuMicrosPerMessage: number;
  /** Cores the whole machine kept busy on average over the round. */
  readonly coresBusy: number;
}

/** The machine's busy CPU time so far, µs (every core; /proc/stat counts in 1/100 s). */
function machineCpuMicros(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait were busy.
  const busy = fields.slice(0, 8).reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0);
  return busy * 10_000;
}

/** A round's sample from its span, the client CPU its processes used and the machine's CPU. */
function sampleOf(spanNs: number, clientCpuMicros: number, machineMicros: number): Sample {
  return {
    nsPerMessage: spanNs / rows,
    cpuMicrosPerMessage: clientCpuMicros / rows,
    machineCpuMicrosPerMessage: machineMicros / rows,
    coresBusy: machineMicros / (spanNs / 1_000),
  };
}

/** Where a broker's relays publish: the destination the parent declared the group at. */
interface BrokerDestination {
  readonly broker: 'redis-streams' | 'amqp';
  /** The Redis key prefix or the AMQP exchange. */
  readonly name: string;
  /** The transport of the relay in this process. */
  readonly local: BenchTransport;
  dispose(): Promise<void>;
}

async function redisDestination(): Promise<BrokerDestination> {
  const name = `bench:${randomUUID().slice(0, 8)}:`;
  const local = redisBenchTransport(name);
  return {
    broker: 'redis-streams',
    name,
    local,
    async dispose() {
      await local.dispose();
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${name}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

async function amqpDestination(): Promise<BrokerDestination> {
  const name = `bench-${randomUUID().slice(0, 8)}`;
  const local = amqpBenchTransport(name);
  return {
    broker: 'amqp',
    name,
    local,
    async dispose() {
      await local.dispose();
      const admin = await amqp.connect(amqpUrl);
      await (await admin.createChannel()).deleteExchange(name);
      await admin.close();
    },
  };
}

/** Drains `rows` outbox rows through one relay in this process; ns and CPU per message. */
async function drainHere(pool: pg.Pool, table: string, transport: Transport): Promise<Sample> {
  let published = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const relayPool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const timeline = timelineDirectory === undefined ? undefined : new RelayTimeline(timelineDirectory);
  timeline?.watch(relayPool);
  const counting = countingTransport(transport, (count) => {
    published += count;
    if (published >= rows) done();
  });
  const relay = postgresOutbox(relayPool, { table }).relay({
    transport: timeline ? timeline.transport(counting) : counting,
    publishConcurrency,
  });
  try {
    // The relay leads before the rows are committed.
    while (relay.snapshot().role !== 'leader') await new Promise((resolve) => setTimeout(resolve, 10));
    let cpu = process.cpuUsage();
    let machine = machineCpuMicros();
    const started = await commitRows(pool, table, () => {
      cpu = process.cpuUsage();
      machine = machineCpuMicros();
    });
    await finished;
    const ended = process.hrtime.bigint();
    const used = process.cpuUsage(cpu);
    const machineUsed = machineCpuMicros() - machine;
    timeline?.mark(started);
    return sampleOf(Number(ended - started), used.user + used.system, machineUsed);
  } finally {
    await relay.close();
    await relayPool.end();
    await pool.query(`VACUUM "${table}"`);
  }
}

/**
 * Commits `rows` rows into `table` in one INSERT; resolves the hrtime at which the COMMIT returned,
 * having called `committed` then. The COMMIT runs the outbox's deferred trigger once per row (30-50
 * ms for 20,000 rows here), writer's work during which no relay can see a row: the round starts
 * when the rows are committed, not when the COMMIT is sent.
 */
async function commitRows(pool: pg.Pool, table: string, committed: () => void): Promise<bigint> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await fill(client, table, rows, { vacuum: false, keys });
    await client.query('COMMIT');
    const started = process.hrtime.bigint();
    committed();
    if (timelineDirectory !== undefined) writeFileSync(commitStampFile(timelineDirectory, table), `${started}\n`);
    return started;
  } finally {
    client.release();
  }
}

/**
 * Child processes that live through every round (warm, as a running fleet is), and what they
 * reported: messages accepted, the stamp of the last accepted publish, CPU µs since ready.
 */
class Fleet {
  private readonly children: TypeScriptChild[];
  private readonly accepted: number[];
  private readonly lastStamp: bigint[];
  private readonly cpuMicros: number[];
  /** CPU µs each child reported on SIGUSR2, awaited by `round()`. */
  private marks: ((micros: number) => void)[] = [];
  private waiting: (() => void) | undefined;
  private roundTarget = rows;

  constructor(count: number, env: (index: number) => Record<string, string>) {
    this.children = Array.from({ length: count }, (_, index) =>
      startTypeScriptChild(worker, { env: env(index), source: onSource, onLine: (line) => this.report(index, line) }),
    );
    this.accepted = this.children.map(() => 0);
    this.lastStamp = this.children.map(() => 0n);
    this.cpuMicros = this.children.map(() => 0);
  }

  /** A line a child printed: `accepted <messages> <hrtime ns> <CPU µs since ready>` counts. */
  private report(index: number, line: string): void {
    const [word, count, stamp, cpu] = line.split(' ');
    if (word === 'cpu') this.marks[index]?.(Number(count));
    if (word !== 'accepted') return;
    this.accepted[index] = (this.accepted[index] as number) + Number(count);
    this.lastStamp[index] = BigInt(stamp as string);
    this.cpuMicros[index] = Number(cpu);
    if (this.total() >= this.roundTarget) this.waiting?.();
  }

  ready(): Promise<unknown> {
    return Promise.all(this.children.map((child) => child.ready));
  }

  /**
   * One round: `start` commits the rows or starts the publishers, calls `started` when the round
   * begins and resolves the hrtime it began at; resolves once `rows` more messages were accepted. The CPU counts from the round's
   * start (each child says what it used so far), not from the previous round's last publish.
   */
  async round(start: (started: () => void) => Promise<bigint>): Promise<Sample> {
    this.roundTarget = this.total() + rows;
    const marked = this.children.map((_, index) => new Promise<number>((resolve) => (this.marks[index] = resolve)));
    for (const { child } of this.children) child.kill('SIGUSR2');
    const cpuBefore = await Promise.all(marked);
    const finished = new Promise<void>((resolve) => {
      this.waiting = resolve;
    });
    let machine = machineCpuMicros();
    const started = await start(() => {
      machine = machineCpuMicros();
    });
    if (this.total() < this.roundTarget) {
      const exited = Promise.race(this.children.map((child) => child.exited)).then(() => {
        throw new Error(`a fleet process exited: ${this.children.map((child) => child.errors()).join('\n')}`);
      });
      await Promise.race([finished, exited]);
    }
    const machineUsed = machineCpuMicros() - machine;
    // A process that accepted nothing this round has an older stamp, below `started`.
    const elapsedNs = Math.max(...this.lastStamp.map((stamp) => Number(stamp - started)));
    // A process that accepted nothing this round last reported less than its mark.
    const cpu = this.cpuMicros.reduce(
      (sum, micros, index) => sum + Math.max(0, micros - (cpuBefore[index] as number)),
      0,
    );
    return sampleOf(elapsedNs, cpu, machineUsed);
  }

  /** Starts a round of the floor publishers. */
  signal(): void {
    for (const { child } of this.children) child.kill('SIGUSR1');
  }

  private total(): number {
    return this.accepted.reduce((sum, count) => sum + count, 0);
  }

  async stop(): Promise<void> {
    for (const { child } of this.children) child.kill('SIGTERM');
    await Promise.all(this.children.map((child) => child.exited));
  }
}

/** Fleets started so far, stopped when the benchmark ends. */
const fleets: Fleet[] = [];

/** Starts a fleet once, for every round of its row. */
function lazyFleet(env: (index: number) => Record<string, string>, count = fleetSize): () => Promise<Fleet> {
  let started: Promise<Fleet> | undefined;
  return () => {
    started ??= (async () => {
      const fleet = new Fleet(count, env);
      fleets.push(fleet);
      await fleet.ready();
      return fleet;
    })();
    return started;
  };
}

/**
 * Drains `rows` outbox rows through a fleet of `count` relays, one per process, sharing `partitions`
 * (1 relay: one publishing alone, partitions 1), each within the CPU budget `relayCpu` if set.
 */
function drainFleet(
  pool: pg.Pool,
  table: string,
  destination: BrokerDestination,
  count = fleetSize,
): () => Promise<Sample> {
  const fleet = lazyFleet(
    () => ({
      BENCH_ROLE: 'relay',
      BENCH_BROKER: destination.broker,
      BENCH_TARGET: table,
      BENCH_DESTINATION: destination.name,
      BENCH_FLEET: String(count),
      BENCH_PARTITIONS: String(count === 1 ? 1 : partitions),
      BENCH_PUBLISH_CONCURRENCY: String(publishConcurrency),
      ...(relayCpu !== undefined && { BENCH_RELAY_CPU: relayCpu }),
    }),
    count,
  );
  return async () => {
    try {
      // Every relay has its share before the rows are committed.
      return await (await fleet()).round((started) => commitRows(pool, table, started));
    } finally {
      await pool.query(`VACUUM "${table}"`);
    }
  };
}

/** The floor by hand in this process: `rows` envelopes to one stream or queue. */
async function floorHere(to: FloorDestination): Promise<Sample> {
  const envelopes = benchEnvelopes(rows);
  const cpu = process.cpuUsage();
  const machine = machineCpuMicros();
  const started = process.hrtime.bigint();
  await publishFloor(to, envelopes);
  const ended = process.hrtime.bigint();
  const used = process.cpuUsage(cpu);
  return sampleOf(Number(ended - started), used.user + used.system, machineCpuMicros() - machine);
}

/** The floor by hand in `fleetSize` processes, a share of the envelopes each, to one stream or queue. */
function floorFleet(broker: BrokerDestination['broker'], target: string): () => Promise<Sample> {
  const fleet = lazyFleet((index) => ({
    BENCH_ROLE: 'floor',
    BENCH_BROKER: broker,
    BENCH_TARGET: target,
    BENCH_MESSAGES: String(Math.floor(rows / fleetSize) + (index < rows % fleetSize ? 1 : 0)),
  }));
  return async () => {
    const publishers = await fleet();
    return publishers.round(async (begin) => {
      begin();
      const started = process.hrtime.bigint();
      publishers.signal();
      return started;
    });
  };
}

async function measure(): Promise<SubjectResult[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const redis = new Redis(redisUrl);
  const connection = await amqp.connect(amqpUrl, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  const floorQueue = `bench-outbox-floor-${suffix}`;
  await channel.assertQueue(floorQueue, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-expires': 600_000 },
  });
  const floorStream = `bench:outbox-floor:${suffix}`;
  const destinations = [await redisDestination(), await amqpDestination()];
  const subjects: Record<string, () => Promise<Sample>> = {};
  const tables: string[] = [];
  for (const destination of destinations) {
    await destination.local.transport.declareGroup?.('orders', 'bench');
    for (const count of [1, fleetSize]) {
      const table = `bench_outbox_brokers_${suffix}_${tables.length}`;
      tables.push(table);
      // A fleet's table has the index its members read their partitions by.
      await postgresOutbox(pool, { table }).migrate(count > 1 ? { partitions } : {});
      if (relayCpu !== undefined)
        subjects[
          count === 1
            ? `relay ×1 (process, ${relayCpu} core) → ${destination.broker}`
            : `relay ×${count} (processes, ${relayCpu} core each) → ${destination.broker}`
        ] = drainFleet(pool, table, destination, count);
      else if (count === 1)
        subjects[`relay ×1 → ${destination.broker}`] = () => drainHere(pool, table, destination.local.transport);
      else subjects[`relay ×${count} (processes) → ${destination.broker}`] = drainFleet(pool, table, destination);
    }
  }
  if (relayCpu === undefined) {
    subjects['floor: XADD pipelined by hand → redis'] = () => floorHere({ redis, stream: floorStream });
    subjects[`floor ×${fleetSize} (processes): XADD pipelined by hand → redis`] = floorFleet(
      'redis-streams',
      floorStream,
    );
    subjects['floor: confirm channel by hand → rabbitmq'] = () => floorHere({ channel, queue: floorQueue });
    subjects[`floor ×${fleetSize} (processes): confirm channel by hand → rabbitmq`] = floorFleet('amqp', floorQueue);
  }
  const names = Object.keys(subjects).filter((name) => only === undefined || name.includes(only));
  const samples = new Map<string, Sample[]>(names.map((name) => [name, []]));
  try {
    for (let round = -warmupRounds; round < rounds; round++) {
      for (let offset = 0; offset < names.length; offset++) {
        const name = names[(round + warmupRounds + offset) % names.length] as string;
        const sample = await (subjects[name] as () => Promise<Sample>)();
        if (round >= 0) samples.get(name)?.push(sample);
        await redis.del(floorStream);
        await channel.purgeQueue(floorQueue);
      }
    }
  } finally {
    for (const fleet of fleets.splice(0)) await fleet.stop();
    for (const destination of destinations) await destination.dispose().catch(() => {});
    for (const table of tables) {
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    }
    await channel.deleteQueue(floorQueue).catch(() => {});
    await connection.close();
    await redis.del(floorStream);
    redis.disconnect();
    await pool.end();
  }
  const middle = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  console.log(
    'CPU per message (medians of rounds): client µs (every process of the row) / machine µs (brokers and PostgreSQL included) / cores busy over the round',
  );
  for (const name of names) {
    const of = (pick: (sample: Sample) => number) => middle((samples.get(name) ?? []).map(pick));
    console.log(
      `  ${name}: ${of((sample) => sample.cpuMicrosPerMessage).toFixed(2)} / ${of((sample) => sample.machineCpuMicrosPerMessage).toFixed(2)} / ${of((sample) => sample.coresBusy).toFixed(2)}`,
    );
  }
  return names.map((name) => {
    const roundsNsPerOp = (samples.get(name) ?? []).map((sample) => sample.nsPerMessage);
    const nsPerOp = middle(roundsNsPerOp);
    return { subject: name, nsPerOp, opsPerSecond: 1e9 / nsPerOp, roundsNsPerOp };
  });
}

const definitions: BenchmarkDefinition[] = [
  {
    name: 'outbox.to-brokers',
    description: `${rows.toLocaleString('en')} committed rows relayed to Redis Streams and RabbitMQ by 1 relay and by a fleet of 3 processes, against each broker's publish-with-confirm floor by hand, by 1 publisher and by 3 processes (messages/s)`,
    mode: { kind: 'op' },
    operations: rows,
    subjects: {},
    measure,
  },
];

export default definitions;
