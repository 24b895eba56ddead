// The event log and projections on this machine's PostgreSQL (DATABASE_URL), side by side with
// Emmett (@event-driven-io/emmett-postgresql), each in a private database made for the run.
//
// event-log.append — 8 writers, each committing transactions of one event. ns/op is per
//   transaction (wall time / transactions), ops/s is appends per second. Subjects:
//     bulwark                       BEGIN; postgresEventLog.append(client, event); COMMIT
//     advisory-lock sequence        the alternative ordering scheme: BEGIN; pg_advisory_xact_lock;
//                                   INSERT (position from a sequence, so commit order); COMMIT
//     emmett                        getPostgreSQLEventStore(url).appendToStream(stream, [event])
// event-log.catch-up — 100,000 events in the log; a projection starts from the beginning and
//   inserts one read-model row per event (one statement per batch of 500) until it has applied
//   them all. ns/op is per event, ops/s events per second. Subjects: bulwark projection(),
//   Emmett's postgreSQLEventStoreConsumer + projector (batch size 500 as well). One round unless
//   EVENT_LOG_CATCH_UP_ROUNDS says more (Emmett needs minutes per round here).
// event-log.lag — a writer commits 10 events every 20 ms (500 events/s) for 4 s per round while
//   the projection runs; latency from just before COMMIT to the handler seeing the event. ns/op is
//   that latency (p50 or p99 of a round), the median over 3 rounds is reported. Each projection
//   polls every 50 ms when idle.

import { projection } from '@bulwark/messaging';
import { postgresEventLog } from '@bulwark/messaging/postgres';
import {
  getPostgreSQLEventStore,
  postgreSQLEventStoreConsumer,
  postgreSQLProjection,
} from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { type BenchmarkDefinition, medianRow, percentile, type SubjectResult } from '../harness.js';

const serverUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A private database for one measurement (Emmett's tables have fixed names), dropped afterwards. */
async function withDatabase<T>(label: string, work: (url: string, pool: pg.Pool) => Promise<T>): Promise<T> {
  const name = `bench_${label}_${suffix}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 12 });
  try {
    return await work(url.toString(), pool);
  } finally {
    await pool.end();
    // Not WITH (FORCE): terminating a connection a library still holds would crash the process
    // through that library's pool. Its connections close soon after it does.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
        break;
      } catch (error) {
        if (attempt >= 50) {
          console.warn(`could not drop database ${name}: ${String(error)}`);
          break;
        }
        await sleep(200);
      }
    }
    await admin.end();
  }
}

const writers = 8;
const transactionsPerWriter = 250;

async function eightWriters(append: (writer: number, index: number) => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let index = 0; index < transactionsPerWriter; index++) await append(writer, index);
    }),
  );
  return Number(process.hrtime.bigint() - start) / (writers * transactionsPerWriter);
}

const sale = (writer: number, index: number) => ({ orderId: `${writer}-${index}`, amount: 4_200, currency: 'EUR' });

async function appendRounds(): Promise<SubjectResult[]> {
  const rounds: Record<string, number[]> = { bulwark: [], 'advisory-lock sequence': [], emmett: [] };
  await withDatabase('append', async (url, pool) => {
    const log = postgresEventLog(pool, { table: 'bench_events' });
    await log.migrate();
    await pool.query(
      'CREATE TABLE bench_locked (position bigint PRIMARY KEY, stream text NOT NULL, type text NOT NULL, data jsonb NOT NULL)',
    );
    await pool.query('CREATE SEQUENCE bench_locked_position');
    const emmett = getPostgreSQLEventStore(url);
    await emmett.appendToStream('warm-up', [{ type: 'sale', data: sale(0, 0) }]);
    const inTransaction = async (work: (client: pg.PoolClient) => Promise<void>) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await work(client);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };
    const subjects: Record<string, () => Promise<number>> = {
      bulwark: () =>
        eightWriters((writer, index) =>
          inTransaction((client) =>
            log.append(client, { stream: `order-${writer}-${index}`, type: 'sale', data: sale(writer, index) }),
          ),
        ),
      'advisory-lock sequence': () =>
        eightWriters((writer, index) =>
          inTransaction(async (client) => {
            // Held until COMMIT: the next writer takes its position only after this one committed.
            await client.query('SELECT pg_advisory_xact_lock(8241913)');
            await client.query("INSERT INTO bench_locked VALUES (nextval('bench_locked_position'), $1, 'sale', $2)", [
              `order-${writer}-${index}`,
              JSON.stringify(sale(writer, index)),
            ]);
          }),
        ),
      emmett: () =>
        eightWriters(async (writer, index) => {
          await emmett.appendToStream(`order-${writer}-${index}`, [{ type: 'sale', data: sale(writer, index) }]);
        }),
    };
    const names = Object.keys(subjects);
    for (let round = 0; round < 3; round++)
      for (let offset = 0; offset < names.length; offset++) {
        const name = names[(round + offset) % names.length] as string;
        rounds[name]?.push(await (subjects[name] as () => Promise<number>)());
      }
    await emmett.close();
  });
  return Object.entries(rounds).map(([subject, values]) => medianRow(subject, values));
}

const backlog = 100_000;
const batchSize = 500;
/** One round by default: Emmett's projector took about 5 minutes per 100,000 events here. */
const catchUpRounds = Number(process.env.EVENT_LOG_CATCH_UP_ROUNDS ?? 1);
/** `EVENT_LOG_CATCH_UP_SUBJECTS=bulwark` measures bulwark alone (minutes shorter). */
const catchUpSubjects = (process.env.EVENT_LOG_CATCH_UP_SUBJECTS ?? 'bulwark,emmett').split(',');

/** A bulwark projection that inserts a row per event; resolves with ns per event once `total` were applied. */
async function bulwarkCatchUp(pool: pg.Pool, total: number): Promise<number> {
  const log = postgresEventLog(pool, { table: 'bench_events' });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_applied_bulwark (order_id text NOT NULL, amount int NOT NULL)');
  const start = process.hrtime.bigint();
  let applied = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const runner = projection({
    name: `catch-up-${suffix}-${Math.random()}`,
    source: log,
    batchSize,
    pollIntervalMs: 50,
    async handle(events, { executor }) {
      const data = events.map((event) => event.data as { orderId: string; amount: number });
      await executor.query(
        'INSERT INTO bench_applied_bulwark (order_id, amount) SELECT * FROM unnest($1::text[], $2::int[])',
        [data.map((entry) => entry.orderId), data.map((entry) => entry.amount)],
      );
      applied += events.length;
      if (applied >= total) done();
    },
  });
  await finished;
  const elapsed = Number(process.hrtime.bigint() - start);
  await runner.close();
  await pool.query('TRUNCATE bench_applied_bulwark');
  return elapsed / total;
}

interface SaleEvent {
  type: 'sale';
  data: { orderId: string; amount: number; sentAt?: number };
}

async function emmettCatchUp(url: string, pool: pg.Pool, total: number, processorId: string): Promise<number> {
  await pool.query('CREATE TABLE IF NOT EXISTS bench_applied_emmett (order_id text NOT NULL, amount int NOT NULL)');
  const start = process.hrtime.bigint();
  let applied = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = postgreSQLEventStoreConsumer<SaleEvent>({
    connectionString: url,
    pulling: { batchSize, pullingFrequencyInMs: 50 },
  });
  consumer.projector<SaleEvent>({
    processorId,
    projection: postgreSQLProjection<SaleEvent>({
      name: processorId,
      canHandle: ['sale'],
      async handle(events, context) {
        const data = events.map((event) => event.data);
        await context.connection.client.query(
          'INSERT INTO bench_applied_emmett (order_id, amount) SELECT * FROM unnest($1::text[], $2::int[])',
          [data.map((entry) => entry.orderId), data.map((entry) => entry.amount)],
        );
        applied += events.length;
        if (applied >= total) done();
      },
    }),
  });
  void consumer.start();
  await finished;
  const elapsed = Number(process.hrtime.bigint() - start);
  await consumer.close();
  await pool.query('TRUNCATE bench_applied_emmett');
  return elapsed / total;
}

async function catchUp(): Promise<SubjectResult[]> {
  const rounds: Record<string, number[]> = { bulwark: [], emmett: [] };
  await withDatabase('catch_up', async (url, pool) => {
    const log = postgresEventLog(pool, { table: 'bench_events' });
    await log.migrate();
    const emmett = getPostgreSQLEventStore(url);
    // Both logs get the same 100,000 events, in transactions of 1,000 (100 streams).
    for (let chunk = 0; chunk < backlog / 1_000; chunk++) {
      const events = Array.from({ length: 1_000 }, (_, index) => ({
        type: 'sale' as const,
        data: { orderId: `${chunk}-${index}`, amount: 4_200 },
      }));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await log.append(
          client,
          events.map((event) => ({ stream: `order-${chunk % 100}`, type: event.type, data: event.data })),
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await emmett.appendToStream(`order-${chunk}`, events);
    }
    await pool.query('VACUUM ANALYZE');
    for (let round = 0; round < catchUpRounds; round++) {
      const order = (round % 2 === 0 ? ['bulwark', 'emmett'] : ['emmett', 'bulwark']).filter((subject) =>
        catchUpSubjects.includes(subject),
      );
      for (const subject of order)
        rounds[subject]?.push(
          subject === 'bulwark'
            ? await bulwarkCatchUp(pool, backlog)
            : await emmettCatchUp(url, pool, backlog, `catch-up-${round}`),
        );
    }
    await emmett.close();
  });
  return Object.entries(rounds)
    .filter(([, values]) => values.length > 0)
    .map(([subject, values]) => medianRow(subject, values));
}

async function lagRounds(): Promise<SubjectResult[]> {
  const samples: Record<string, { p50: number[]; p99: number[] }> = {
    bulwark: { p50: [], p99: [] },
    emmett: { p50: [], p99: [] },
  };
  await withDatabase('lag', async (url, pool) => {
    const log = postgresEventLog(pool, { table: 'bench_events' });
    await log.migrate();
    const emmett = getPostgreSQLEventStore(url);
    await emmett.appendToStream('warm-up', [{ type: 'sale', data: { orderId: 'w', amount: 0 } }]);
    const steadyLoad = async (append: (events: SaleEvent[]) => Promise<void>, latencies: number[], until: number) => {
      let sequence = 0;
      while (Date.now() < until) {
        const sentAt = performance.now();
        await append(
          Array.from({ length: 10 }, () => ({
            type: 'sale' as const,
            data: { orderId: String(sequence++), amount: 1, sentAt: performance.timeOrigin + sentAt },
          })),
        );
        await sleep(20);
      }
      await sleep(500);
      return latencies;
    };
    const seen = (latencies: number[]) => (events: ReadonlyArray<{ data: unknown }>) => {
      const now = performance.timeOrigin + performance.now();
      for (const event of events) {
        const sentAt = (event.data as { sentAt?: number }).sentAt;
        if (sentAt !== undefined) latencies.push((now - sentAt) * 1e6);
      }
    };
    for (let round = 0; round < 3; round++) {
      for (const subject of round % 2 === 0 ? ['bulwark', 'emmett'] : ['emmett', 'bulwark']) {
        const latencies: number[] = [];
        const record = seen(latencies);
        if (subject === 'bulwark') {
          const head = await log.head();
          const runner = projection({
            name: `lag-${round}`,
            source: log,
            batchSize,
            pollIntervalMs: 50,
            async handle(events) {
              // Only what this round wrote: the checkpoint starts at the log's head.
              record(events.filter((event) => event.transactionId > head.transactionId));
            },
          });
          await steadyLoad(
            async (events) => {
              const client = await pool.connect();
              try {
                await client.query('BEGIN');
                await log.append(
                  client,
                  events.map((event) => ({ stream: 'lag', type: event.type, data: event.data })),
                );
                await client.query('COMMIT');
              } finally {
                client.release();
              }
            },
            latencies,
            Date.now() + 4_000,
          );
          await runner.close();
        } else {
          const consumer = postgreSQLEventStoreConsumer<SaleEvent>({
            connectionString: url,
            pulling: { batchSize, pullingFrequencyInMs: 50 },
          });
          consumer.projector<SaleEvent>({
            processorId: `lag-${round}`,
            startFrom: 'END',
            projection: postgreSQLProjection<SaleEvent>({
              name: `lag-${round}`,
              canHandle: ['sale'],
              async handle(events) {
                record(events);
              },
            }),
          });
          void consumer.start();
          await sleep(300);
          await steadyLoad(
            async (events) => {
              await emmett.appendToStream('lag', events);
            },
            latencies,
            Date.now() + 4_000,
          );
          await consumer.close();
        }
        latencies.sort((left, right) => left - right);
        samples[subject]?.p50.push(percentile(latencies, 0.5));
        samples[subject]?.p99.push(percentile(latencies, 0.99));
      }
    }
    await emmett.close();
  });
  return Object.entries(samples).flatMap(([subject, values]) => [
    medianRow(`${subject} p50`, values.p50),
    medianRow(`${subject} p99`, values.p99),
  ]);
}

const definitions: BenchmarkDefinition[] = [
  {
    name: 'event-log.append',
    description: `${writers} writers × ${transactionsPerWriter} transactions of one event each; ns/op per transaction`,
    mode: { kind: 'concurrent', concurrency: writers },
    operations: writers * transactionsPerWriter,
    subjects: {},
    baseline: 'emmett',
    measure: appendRounds,
  },
  {
    name: 'event-log.catch-up',
    description: `a projection catching up on ${backlog.toLocaleString('en')} events (one row per event, batches of ${batchSize}); ns/op per event`,
    mode: { kind: 'op' },
    operations: backlog,
    subjects: {},
    baseline: 'emmett',
    measure: catchUp,
  },
  {
    name: 'event-log.lag',
    description: 'commit-to-handler latency under 500 events/s (10 per transaction every 20 ms); ns/op is the latency',
    mode: { kind: 'op' },
    operations: 1,
    subjects: {},
    baseline: 'emmett p50',
    measure: lagRounds,
  },
];

export default definitions;
