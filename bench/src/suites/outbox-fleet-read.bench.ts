// One read of a fleet member (issue #21): the relay's 4,000-row read of the 4 partitions (of 12) it
// holds, as its session runs it (outbox-session.sql), walking the primary key from the oldest row
// (outbox-claim-partitions.sql, a table migrated without `partitions`) against the same walk started
// at the member's first row, found through the partition index (outbox-claim-partitions-indexed.sql,
// `migrate({ partitions: 12 })`). Nothing is deleted, so every read returns the same rows, on one
// connection. (Reading the partitions from the index instead, one scan each merged in position
// order, measured the same as the latter in both cases: not kept.)
//
// outbox.fleet-read.steady — 20,000 rows of every partition, as a fleet that keeps up sees them:
//   the walk passes over 2 rows of other members per row it returns.
// outbox.fleet-read.behind-backlog — the same behind 100,000 rows of the other members' partitions
//   (a member that lags, or one whose topic keeps failing): the walk passes over all of them.
import { postgresOutbox, postgresOutboxSql } from '@bulwark/messaging/postgres';
import pg from 'pg';
import type { BenchmarkDefinition, Subject } from '../harness.js';

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const table = 'bench_outbox_fleet_read';
const partitions = 12;
const held = [0, 3, 6, 9];
const batch = 4_000;
const sql = postgresOutboxSql({ table });

let pool: pg.Pool | undefined;
/**
 * The one connection every subject reads on, with the relay's session settings. (A connection per
 * subject made the subject whose connection came first 15% faster, whichever it was.)
 */
let client: pg.PoolClient | undefined;

/** Rows like the relay's, with keys `order-<n>`; `where` filters them by their partition. */
async function insertRows(into: pg.Pool, count: number, where: string): Promise<void> {
  await into.query(
    `INSERT INTO "${table}" (id, topic, key, envelope)
     SELECT i::text, 'orders', key, jsonb_build_object('id', i::text, 'topic', 'orders', 'type', 'order.placed', 'key', key,
       'payload', jsonb_build_object('orderId', i, 'total', 4200, 'currency', 'EUR'))
     FROM (SELECT i, 'order-' || (i % 1000) AS key FROM generate_series(1, $1::int * 3) AS i) AS rows
     WHERE ${where}
     LIMIT $1`,
    [count],
  );
}

function setupWith(backlog: number): () => Promise<void> {
  return async () => {
    pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    const outbox = postgresOutbox(pool, { table });
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
    await outbox.migrate({ partitions });
    const heldList = held.join(',');
    if (backlog > 0)
      await insertRows(pool, backlog, `(hashtext(key) & 2147483647) % ${partitions} NOT IN (${heldList})`);
    await insertRows(pool, 20_000, 'true');
    await pool.query(`VACUUM ANALYZE "${table}"`);
    client = await pool.connect();
    await client.query(sql.session, ['30000']);
  };
}

async function teardown(): Promise<void> {
  client?.release();
  client = undefined;
  await pool?.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
  await pool?.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
  await pool?.end();
  pool = undefined;
}

/** A subject running `text` with `values` on the relay-like connection. */
function read(text: string, values: unknown[]): () => Subject {
  return () => ({ run: () => (client as pg.PoolClient).query(text, values) });
}

const subjects = {
  'walk from its first row, found through the partition index': read(sql.claimPartitionsIndexed(partitions), [
    batch,
    [],
    '{}',
    partitions,
    held,
    '{}',
  ]),
  'walk of the primary key (no partition index)': read(sql.claimPartitions, [batch, [], '{}', partitions, held, '{}']),
};

const definitions: BenchmarkDefinition[] = [
  {
    name: 'outbox.fleet-read.steady',
    description: `a fleet member's read of ${batch.toLocaleString('en')} rows of its 4 of 12 partitions, among 20,000 rows of every partition (ns/op per read)`,
    mode: { kind: 'op' },
    operations: 50,
    rounds: 9,
    baseline: 'walk of the primary key (no partition index)',
    setup: setupWith(0),
    teardown,
    subjects,
  },
  {
    name: 'outbox.fleet-read.behind-backlog',
    description: `the same read behind 100,000 rows of the other members' partitions (ns/op per read)`,
    mode: { kind: 'op' },
    operations: 20,
    rounds: 9,
    baseline: 'walk of the primary key (no partition index)',
    setup: setupWith(100_000),
    teardown,
    subjects,
  },
];

export default definitions;
