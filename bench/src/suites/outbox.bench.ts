// The PostgreSQL transactional outbox relay, on this machine's PostgreSQL (DATABASE_URL).
//
// outbox.relay-throughput — a table of 100,000 committed messages is drained to the memory
//   transport; time from starting the relay until the last message is published. ns/op is per
//   message, ops/s is messages per second. Subjects:
//     bulwark relay, batch N          postgresOutbox(pool).relay({ transport, batchSize: N })
//     hand-made relay (SKIP LOCKED)   the usual hand-written loop: BEGIN; SELECT … ORDER BY
//                                     position LIMIT 100 FOR UPDATE SKIP LOCKED; publish;
//                                     DELETE; COMMIT — one worker
// outbox.commit-to-publish — 4 writers commit one message per transaction (a 10 ms pause
//   between commits each) while one relay publishes to the memory transport; latency from just
//   before COMMIT is sent to the moment the transport receives the message. ns/op is that
//   latency (p50 or p99 of a round); the median over rounds is reported. Subjects: the relay
//   woken by LISTEN/NOTIFY (its poll left at 1 s), and the same relay with `listen: false`,
//   i.e. a relay that polls every second.
// outbox.writers — what the outbox costs the writers: 8 writers each commit 200 transactions of
//   one message. ns/op is per transaction (wall time / transactions), ops/s is commits per second.
//   Subjects: a plain INSERT into the same table with the trigger dropped (the floor); the outbox
//   while its relay runs (writers notify only while the relay is idle); the outbox with every
//   commit notifying (no relay running, so the flag stays on) — what a trigger that always
//   notifies costs, as notifying commits serialize cluster-wide; the outbox with its relay running
//   on a table migrated with `partitions: 12` — what the fleet's partition index costs each insert;
//   the outbox with no relay and the flag off — the trigger's own cost, as a busy relay leaves it.
//   One round of every subject first, not counted; then BENCH_ROUNDS (5) rounds, the subjects'
//   order turned by one each round.
import { performance } from 'node:perf_hooks';
import { createEnvelope, type Envelope, memoryTransport, type Transport } from '@bulwark/messaging';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import pg from 'pg';
import { type BenchmarkDefinition, medianRow, percentile, type SubjectResult } from '../harness.js';

const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The memory transport, counting what it receives and when. */
function countingTransport(onPublished: (messages: readonly Envelope[]) => void): Pick<Transport, 'publish'> {
  const inner = memoryTransport();
  return {
    async publish(topic, messages, options) {
      await inner.publish(topic, messages, options);
      onPublished(messages);
    },
  };
}

const backlog = 100_000;

/** Writes `rows` committed outbox rows into `table` (server-side generation: ~250-byte envelopes, `keys` keys). */
export async function fill(
  pool: pg.Pool | pg.PoolClient,
  table: string,
  rows = backlog,
  { vacuum = true, keys = 100 } = {},
): Promise<void> {
  await pool.query(
    `INSERT INTO "${table}" (id, topic, key, envelope)
     SELECT e ->> 'id', e ->> 'topic', e ->> 'key', e FROM (
       SELECT jsonb_build_object(
         'id', gen_random_uuid()::text, 'topic', 'orders', 'type', 'order.placed', 'key', 'order-' || (i % $2::int),
         'payload', jsonb_build_object('orderId', i, 'total', 4200, 'currency', 'EUR', 'lines', jsonb_build_array(jsonb_build_object('sku', 'SKU-1', 'quantity', 2))),
         'headers', jsonb_build_object('correlationId', gen_random_uuid()::text),
         'occurredAt', to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) AS e
       FROM generate_series(1, $1::int) AS i
     ) AS generated`,
    [rows, keys],
  );
  if (vacuum) await pool.query(`VACUUM ANALYZE "${table}"`);
}

async function drainWithBulwark(pool: pg.Pool, table: string, batchSize: number): Promise<number> {
  const outbox = postgresOutbox(pool, { table });
  let published = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const transport = countingTransport((messages) => {
    published += messages.length;
    if (published >= backlog) done();
  });
  const start = process.hrtime.bigint();
  const relay = outbox.relay({ transport, batchSize });
  await finished;
  const elapsed = Number(process.hrtime.bigint() - start);
  await relay.close();
  return elapsed / backlog;
}

async function drainByHand(pool: pg.Pool, table: string): Promise<number> {
  let published = 0;
  const transport = countingTransport((messages) => {
    published += messages.length;
  });
  const start = process.hrtime.bigint();
  const client = await pool.connect();
  try {
    for (;;) {
      await client.query('BEGIN');
      const { rows } = await client.query<{ position: string; envelope: Envelope }>(
        `SELECT position, envelope FROM "${table}" ORDER BY position LIMIT 100 FOR UPDATE SKIP LOCKED`,
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        break;
      }
      await transport.publish(
        'orders',
        rows.map((entry) => entry.envelope),
      );
      await client.query(`DELETE FROM "${table}" WHERE position = ANY($1::bigint[])`, [
        rows.map((entry) => entry.position),
      ]);
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
  if (published !== backlog) throw new Error(`hand-made relay published ${published} of ${backlog}`);
  return Number(process.hrtime.bigint() - start) / backlog;
}

async function throughput(): Promise<SubjectResult[]> {
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  const subjects: Record<string, (table: string) => Promise<number>> = {
    'bulwark relay, batch 1000': (table) => drainWithBulwark(pool, table, 1000),
    'bulwark relay, batch 500 (default)': (table) => drainWithBulwark(pool, table, 500),
    'hand-made relay (SKIP LOCKED, batch 100)': (table) => drainByHand(pool, table),
  };
  const names = Object.keys(subjects);
  const tables = names.map((_, index) => `bench_outbox_${suffix}_${index}`);
  const samples = new Map<string, number[]>(names.map((name) => [name, []]));
  try {
    for (const table of tables) await postgresOutbox(pool, { table }).migrate();
    for (let round = 0; round < 3; round++) {
      for (let offset = 0; offset < names.length; offset++) {
        const index = (round + offset) % names.length;
        const name = names[index] as string;
        const table = tables[index] as string;
        await fill(pool, table);
        samples.get(name)?.push(await (subjects[name] as (table: string) => Promise<number>)(table));
      }
    }
  } finally {
    for (const table of tables) {
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    }
    await pool.end();
  }
  return names.map((name) => medianRow(name, samples.get(name) ?? []));
}

/** One round: writers commit one message per transaction for `durationMs`; returns latencies in ns. */
async function latencyRound(pool: pg.Pool, table: string, listen: boolean, durationMs: number): Promise<number[]> {
  const outbox = postgresOutbox(pool, { table });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const transport = countingTransport((messages) => {
    const now = performance.now();
    for (const message of messages) {
      const sent = sentAt.get(message.id);
      if (sent !== undefined) latencies.push((now - sent) * 1e6);
    }
  });
  const relay = outbox.relay({ transport, listen, pollIntervalMs: 1_000 });
  while (relay.snapshot().role !== 'leader') await sleep(5);
  await sleep(50);
  const stopAt = performance.now() + durationMs;
  const writer = async (index: number) => {
    await sleep(index * 3);
    const client = await pool.connect();
    try {
      let sequence = 0;
      while (performance.now() < stopAt) {
        const message = createEnvelope({
          topic: 'orders',
          type: 'order.placed',
          key: `w${index}`,
          payload: { sequence: sequence++ },
        });
        await client.query('BEGIN');
        await outbox.add(client, message);
        sentAt.set(message.id, performance.now());
        await client.query('COMMIT');
        await sleep(10);
      }
    } finally {
      client.release();
    }
  };
  await Promise.all([0, 1, 2, 3].map(writer));
  const deadline = performance.now() + 5_000;
  while (latencies.length < sentAt.size && performance.now() < deadline) await sleep(20);
  await relay.close();
  if (latencies.length < sentAt.size) throw new Error(`only ${latencies.length} of ${sentAt.size} published`);
  return latencies;
}

async function commitToPublish(): Promise<SubjectResult[]> {
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const table = `bench_outbox_latency_${suffix}`;
  const modes = [
    { name: 'LISTEN/NOTIFY', listen: true, durationMs: 3_000 },
    { name: 'poll every 1 s', listen: false, durationMs: 4_000 },
  ];
  const p50 = new Map<string, number[]>(modes.map((mode) => [mode.name, []]));
  const p99 = new Map<string, number[]>(modes.map((mode) => [mode.name, []]));
  let samples = 0;
  try {
    await postgresOutbox(pool, { table }).migrate();
    for (let round = 0; round < 3; round++) {
      for (let offset = 0; offset < modes.length; offset++) {
        const mode = modes[(round + offset) % modes.length] as (typeof modes)[number];
        const latencies = (await latencyRound(pool, table, mode.listen, mode.durationMs)).sort((a, b) => a - b);
        samples += latencies.length;
        p50.get(mode.name)?.push(percentile(latencies, 0.5));
        p99.get(mode.name)?.push(percentile(latencies, 0.99));
      }
    }
  } finally {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
    await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    await pool.end();
  }
  console.log(`(commit-to-publish: ${samples} messages measured over 3 rounds per mode)`);
  return modes.flatMap((mode) => [
    medianRow(`${mode.name} p50`, p50.get(mode.name) ?? []),
    medianRow(`${mode.name} p99`, p99.get(mode.name) ?? []),
  ]);
}

/** Measured rounds of outbox.writers (BENCH_ROUNDS to change), after one that is not. */
const writerRounds = Number(process.env.BENCH_ROUNDS ?? 5);

async function writers(): Promise<SubjectResult[]> {
  const pool = new pg.Pool({ connectionString: url, max: 12 });
  const modes = [
    'plain INSERT (no trigger)',
    'outbox, relay running (notify only when idle)',
    'outbox, every commit notifies',
    'outbox, relay running, partition index of 12',
    'outbox, trigger never notifies (no relay)',
  ];
  const samples = new Map<string, number[]>(modes.map((mode) => [mode, []]));
  const transactionsPerWriter = 200;
  try {
    // Round -1 warms the pool, the server and the JIT up and is not counted.
    for (let round = -1; round < writerRounds; round++) {
      for (let offset = 0; offset < modes.length; offset++) {
        const mode = modes[(round + 1 + offset) % modes.length] as string;
        const table = `bench_outbox_writers_${suffix}_${round + 1}_${offset}`;
        const outbox = postgresOutbox(pool, { table });
        await outbox.migrate(mode === modes[3] ? { partitions: 12 } : {});
        if (mode === modes[0]) await pool.query(`DROP TRIGGER "${table}_notify" ON "${table}"`);
        if (mode === modes[4]) await pool.query(`UPDATE "${table}_relay" SET notify = false`);
        const relay =
          mode === modes[1] || mode === modes[3] ? outbox.relay({ transport: countingTransport(() => {}) }) : undefined;
        if (relay) while (relay.snapshot().role !== 'leader') await sleep(5);
        const start = process.hrtime.bigint();
        await Promise.all(
          Array.from({ length: 8 }, async (_, writer) => {
            const client = await pool.connect();
            try {
              for (let index = 0; index < transactionsPerWriter; index++) {
                await client.query('BEGIN');
                await outbox.add(
                  client,
                  createEnvelope({ topic: 'orders', type: 'order.placed', key: `w${writer}`, payload: { index } }),
                );
                await client.query('COMMIT');
              }
            } finally {
              client.release();
            }
          }),
        );
        if (round >= 0) samples.get(mode)?.push(Number(process.hrtime.bigint() - start) / (8 * transactionsPerWriter));
        await relay?.close();
        await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
        await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
      }
    }
  } finally {
    await pool.end();
  }
  return modes.map((mode) => medianRow(mode, samples.get(mode) ?? []));
}

const definitions: BenchmarkDefinition[] = [
  {
    name: 'outbox.relay-throughput',
    description: 'drain 100,000 committed rows to the memory transport (ns/op per message, ops/s = messages/s)',
    mode: { kind: 'op' },
    operations: backlog,
    rounds: 3,
    baseline: 'hand-made relay (SKIP LOCKED, batch 100)',
    subjects: {},
    measure: throughput,
  },
  {
    name: 'outbox.commit-to-publish',
    description:
      'latency from COMMIT to the transport, 4 writers committing one message at a time (ns/op = latency, median of 3 rounds)',
    mode: { kind: 'op' },
    operations: 1,
    rounds: 3,
    subjects: {},
    measure: commitToPublish,
  },
  {
    name: 'outbox.writers',
    description: '8 writers committing one message per transaction (ns/op per transaction, ops/s = commits/s)',
    mode: { kind: 'concurrent', concurrency: 8 },
    operations: 1_600,
    rounds: 3,
    baseline: 'outbox, every commit notifies',
    subjects: {},
    measure: writers,
  },
];
export default definitions;
