import { createEnvelope, type Envelope } from '@bulwark/messaging';
import { OutboxPartitionsMismatchError, type PostgresOutbox, postgresOutbox } from '@bulwark/messaging/postgres';
import { constant } from '@bulwark/resilience';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { installTestTelemetry } from '@bulwark/test-support/otel';
import fc from 'fast-check';
import pg from 'pg';
import { expect, it } from 'vitest';
import { recordingTransport } from '../outbox/fixtures/recording-transport.js';
import { outboxTestBed, waitUntil } from './fixtures/outbox-test-bed.js';

const telemetry = installTestTelemetry();
const keys = Array.from({ length: 40 }, (_, index) => `key-${index}`);
const message = (key: string, sequence: number) =>
  createEnvelope({ topic: 'orders', type: 'order.updated', key, payload: { sequence } });
const sequenceOf = (envelope: Envelope) => (envelope.payload as { sequence: number }).sequence;
const allPartitions = (count: number) => Array.from({ length: count }, (_, index) => index);

/** Per key, the sequences in the order they were first published. */
function firstPublishedOrder(published: readonly Envelope[]): Map<string, number[]> {
  const seen = new Set<string>();
  const order = new Map<string, number[]>();
  for (const envelope of published) {
    if (seen.has(envelope.id)) continue;
    seen.add(envelope.id);
    const list = order.get(envelope.key as string) ?? [];
    list.push(sequenceOf(envelope));
    order.set(envelope.key as string, list);
  }
  return order;
}

await describeWithServers('postgresOutbox relays sharing partitions', ['postgres'], ({ postgres: url }) => {
  const { pool, newOutbox, track } = outboxTestBed(url, 'outbox_fleet');
  let sequence = 0;
  /** Commits `rounds` messages of every key, one transaction per round. */
  const write = async (outbox: PostgresOutbox, rounds: number) => {
    for (let round = 0; round < rounds; round++) {
      sequence += 1;
      const batch = keys.map((key) => message(key, sequence));
      await outbox.add(pool, batch);
    }
  };

  it('reports partition option problems with the others', () => {
    expect(() =>
      postgresOutbox(pool).relay({
        transport: recordingTransport(),
        partitions: 0,
        rebalanceIntervalMs: Number.NaN,
        publishConcurrency: 0,
      }),
    ).toThrowError(
      expect.objectContaining({
        problems: [
          'publishConcurrency must be an integer from 1 to 256, got 0',
          'partitions must be an integer from 1 to 1024, got 0',
          'rebalanceIntervalMs must be a finite number of at least 1, got NaN',
        ],
      }),
    );
  });

  it("a member's read returns the first rows of its own partitions only, in position order, none left out or read by another member", async () => {
    const outbox = await newOutbox();
    /** Runs the fleet's read as a member does (nothing to delete first). */
    const read = async (limit: number, skipTopics: string[], exclude: string[], partitions: number, held: number[]) =>
      (
        await pool.query<{ position: string; key: string | null; topic: string; partition: number }>(
          outbox.sql.claimPartitions,
          [limit, skipTopics, exclude, partitions, held, []],
        )
      ).rows;
    const row = fc.record({
      key: fc.option(fc.constantFrom(...keys.slice(0, 12)), { nil: undefined }),
      topic: fc.constantFrom('a', 'b'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(row, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 2, max: 16 }),
        fc.array(fc.nat(3), { minLength: 16, maxLength: 16 }),
        fc.integer({ min: 1, max: 120 }),
        fc.boolean(),
        fc.array(fc.boolean(), { maxLength: 320 }),
        async (transactions, partitions, ownerOf, limit, skipB, excluded) => {
          await pool.query(`DELETE FROM ${outbox.table}`);
          for (const rows of transactions)
            await outbox.add(
              pool,
              rows.map(({ key, topic }) =>
                createEnvelope({ topic, type: 't', ...(key !== undefined && { key }), payload: {} }),
              ),
            );
          // Every row and its partition, as one member holding every partition reads them.
          const everything = await read(100_000, [], [], partitions, allPartitions(partitions));
          expect(everything.length).toBe(transactions.flat().length);
          const positions = everything.map((each) => BigInt(each.position));
          expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
          // A key (the topic for rows without one) is in one partition, below the count.
          const partitionOf = new Map<string, number>();
          for (const { key, topic, partition } of everything) {
            const by = key ?? `topic:${topic}`;
            expect(partition).toBeGreaterThanOrEqual(0);
            expect(partition).toBeLessThan(partitions);
            expect(partitionOf.get(by) ?? partition).toBe(partition);
            partitionOf.set(by, partition);
          }
          const exclude = everything.filter((_, index) => excluded[index] === true).map((each) => each.position);
          const skipTopics = skipB ? ['b'] : [];
          const members = [0, 1, 2, 3].map((member) => allPartitions(partitions).filter((p) => ownerOf[p] === member));
          // The same reads started through the index of this partition count.
          await pool.query(outbox.sql.partitionIndex(partitions));
          for (const held of members) {
            const got = await read(limit, skipTopics, exclude, partitions, held);
            const expected = everything
              .filter((each) => held.includes(each.partition))
              .filter((each) => !exclude.includes(each.position) && !skipTopics.includes(each.topic))
              .slice(0, limit)
              .map((each) => [each.position, each.partition]);
            expect(got.map((each) => [each.position, each.partition])).toEqual(expected);
            const indexed = await pool.query<{ position: string; partition: number }>(
              outbox.sql.claimPartitionsIndexed(partitions),
              [limit, skipTopics, exclude, partitions, held, []],
            );
            expect(indexed.rows.map((each) => [each.position, each.partition])).toEqual(expected);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('migrate({ partitions }) builds the index of that count and drops those of other counts; migrate() leaves them', async () => {
    const outbox = await newOutbox({ partitions: 8 });
    const name = outbox.table.replaceAll('"', '');
    const indexes = async () =>
      (
        await pool.query<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexname <> $1 || '_pkey' ORDER BY indexname`,
          [name],
        )
      ).rows.map((row) => row.indexname);
    expect(await indexes()).toEqual([`${name}_p8`]);
    await outbox.migrate({ partitions: 8 });
    await outbox.migrate();
    expect(await indexes()).toEqual([`${name}_p8`]);
    // An index of the operators' own, named like no partition index, stays.
    await pool.query(`CREATE INDEX "${name}_p8x" ON ${outbox.table} (created_at)`);
    await outbox.migrate({ partitions: 4 });
    expect(await indexes()).toEqual([`${name}_p4`, `${name}_p8x`]);
    const ready = await pool.query<{ ready: boolean }>(outbox.sql.partitionIndexReady, [
      outbox.sql.partitionIndexName(4),
    ]);
    expect(ready.rows[0]?.ready).toBe(true);
  });

  it('refuses a partition count it cannot index with a typed error, before touching the table', async () => {
    const outbox = await newOutbox();
    for (const partitions of [0, 1.5, 1025, Number.NaN])
      await expect(outbox.migrate({ partitions })).rejects.toMatchObject({
        name: 'InvalidOptionsError',
        problems: [`partitions must be an integer from 1 to 1024, got ${partitions}`],
      });
    expect(() => outbox.sql.partitionIndex(1)).toThrowError(/from 2 to 1024/);
    expect(() => outbox.sql.claimPartitionsIndexed(2.5)).toThrowError(/from 2 to 1024 for a partition index, got 2.5/);
  });

  it("a member's read skips the other partitions' backlog ahead of its first row, also once the table is analyzed", async () => {
    const outbox = await newOutbox({ partitions: 12 });
    for (let round = 0; round < 12; round++)
      await outbox.add(
        pool,
        Array.from({ length: 1_000 }, (_, index) => message(`order-${index}`, round)),
      );
    // The first 8,000 rows of the held partitions are published: 8,000 rows of others' partitions
    // are left ahead of the member's first row, as behind a member that lags.
    const held = [0, 3, 6, 9];
    const rows = (
      await pool.query<{ position: string; partition: number }>(outbox.sql.claimPartitions, [
        100_000,
        [],
        '{}',
        12,
        allPartitions(12),
        '{}',
      ])
    ).rows;
    const published = rows.slice(0, 8_000).filter((row) => held.includes(row.partition));
    await pool.query(outbox.sql.delete, [`{${published.map((row) => row.position).join(',')}}`]);
    const ahead = 8_000 - published.length;
    await pool.query(`ANALYZE ${outbox.table}`);
    const name = outbox.table.replaceAll('"', '');
    const client = await pool.connect();
    try {
      // The relay's session settings (outbox-session.sql), as the relay reads.
      await client.query(outbox.sql.session, ['30000']);
      const plan = (
        await client.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) ${outbox.sql.claimPartitionsIndexed(12)}`,
          [1_000, [], '{}', 12, held, '{}'],
        )
      ).rows.map((row) => row['QUERY PLAN']);
      // Each partition's first row comes from one probe of the partition index...
      const probe = plan.find((line) => line.includes(' candidate ')) ?? '';
      expect(probe).toContain(`Index Scan using ${name}_p12 on ${name} candidate (actual rows=1 loops=4)`);
      // ...and the walk starts there: it passes over the others' rows among the member's only.
      const walk = plan.findIndex((line) => line.includes(` on ${name} outbox `));
      expect(plan[walk]).toContain(`Index Scan using ${name}_pkey`);
      expect(plan[walk + 1]).toMatch(/Index Cond: \("position" >= \$\d+\)/);
      const passedOver = Number(/Rows Removed by Filter: (\d+)/.exec(plan[walk + 3] ?? plan.join('\n'))?.[1]);
      expect(ahead).toBeGreaterThan(5_000);
      expect(passedOver).toBeLessThan(2_500);
      await client.query(outbox.sql.sessionReset);
    } finally {
      client.release();
    }
  });

  it('relays of a table migrated with their partitions read through its index, each key in order and once', async () => {
    const outbox = await newOutbox({ partitions: 8 });
    const transport = recordingTransport();
    const options = { transport, partitions: 8, rebalanceIntervalMs: 50, publishConcurrency: 4 } as const;
    const relays = [track(outbox.relay(options)), track(outbox.relay(options))];
    await waitUntil(() => relays.every((relay) => relay.snapshot().partitions?.length === 4), 5_000);
    await write(outbox, 20);
    await transport.waitFor(keys.length * 20);
    expect(new Set(transport.published.map((envelope) => envelope.id)).size).toBe(keys.length * 20);
    for (const order of firstPublishedOrder(transport.published).values())
      expect(order).toEqual([...order].sort((a, b) => a - b));
    // The index was scanned (the statistics are sent by the relays' backends within a second or so).
    const name = outbox.table.replaceAll('"', '');
    await waitUntil(async () => {
      const scans = await pool.query<{ idx_scan: string }>(
        'SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1',
        [`${name}_p8`],
      );
      return Number(scans.rows[0]?.idx_scan ?? 0) > 0;
    }, 10_000);
  });

  it('a relay alone takes every partition (snapshot and metric say so) and publishes everything in key order', async () => {
    const outbox = await newOutbox();
    const transport = recordingTransport();
    const relay = track(outbox.relay({ transport, partitions: 8, rebalanceIntervalMs: 50, publishConcurrency: 4 }));
    await write(outbox, 10);
    await transport.waitFor(keys.length * 10);
    expect(relay.snapshot()).toMatchObject({ role: 'leader', partitions: allPartitions(8) });
    // Dashboards see how many partitions the relay holds.
    const held = await telemetry.points('bulwark.outbox.partitions');
    expect(held.find((point) => point.attributes['bulwark.outbox.name'] === relay.snapshot().outbox)?.value).toBe(8);
    for (const order of firstPublishedOrder(transport.published).values())
      expect(order).toEqual([...order].sort((first, second) => first - second));
    // Without partitions the snapshot names none: one relay publishes everything, as before.
    const single = track(postgresOutbox(pool, { table: `${outbox.table.replaceAll('"', '')}` }).relay({ transport }));
    expect(single.snapshot().partitions).toBeUndefined();
  });

  it('two relays split the partitions and both publish, each key in order and once', async () => {
    const outbox = await newOutbox();
    const transport = recordingTransport();
    const options = { transport, partitions: 8, rebalanceIntervalMs: 50, publishConcurrency: 4 } as const;
    const first = track(outbox.relay(options));
    const second = track(outbox.relay(options));
    await waitUntil(
      () => first.snapshot().partitions?.length === 4 && second.snapshot().partitions?.length === 4,
      5_000,
    );
    const held = [...(first.snapshot().partitions ?? []), ...(second.snapshot().partitions ?? [])];
    expect(held.sort((a, b) => a - b)).toEqual(allPartitions(8));
    await write(outbox, 20);
    await transport.waitFor(keys.length * 20);
    expect(first.snapshot().dispatched).toBeGreaterThan(0);
    expect(second.snapshot().dispatched).toBeGreaterThan(0);
    expect(new Set(transport.published.map((envelope) => envelope.id)).size).toBe(transport.published.length);
    for (const order of firstPublishedOrder(transport.published).values())
      expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("takes over a dead relay's partitions, and a relay that leaves hands its partitions over", async () => {
    const outbox = await newOutbox();
    const transport = recordingTransport();
    const options = { transport, partitions: 6, rebalanceIntervalMs: 50 } as const;
    const survivor = track(outbox.relay(options));
    // The victim's own pool: killing its connection is its death (its backoff keeps it out).
    const victimName = uniqueName('outbox_fleet_victim');
    const victimPool = new pg.Pool({ connectionString: url, max: 2, application_name: victimName });
    victimPool.on('error', () => {});
    const victim = track(
      postgresOutbox(victimPool, { table: outbox.table.replaceAll('"', '') }).relay({
        ...options,
        backoff: constant({ ms: 60_000 }),
      }),
    );
    try {
      const leaver = track(outbox.relay(options));
      await waitUntil(() => [survivor, victim, leaver].every((relay) => relay.snapshot().partitions?.length === 2));
      await write(outbox, 5);
      await transport.waitFor(keys.length * 5);
      // The victim's lock connection dies (as with a killed process): its two partitions go.
      await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        victimName,
      ]);
      await waitUntil(() => victim.snapshot().role === 'standby');
      await waitUntil(() => survivor.snapshot().partitions?.length === 3 && leaver.snapshot().partitions?.length === 3);
      await write(outbox, 5);
      await transport.waitFor(keys.length * 10);
      // A relay that closes gives its partitions up at once; the survivor takes them all.
      await leaver.close();
      await waitUntil(() => survivor.snapshot().partitions?.length === 6);
      await write(outbox, 5);
      await transport.waitFor(keys.length * 15);
      // Every message out (the victim's last publishes may have gone out twice), each key in order.
      await waitUntil(async () => (await outbox.lag()).pending === 0);
      expect(new Set(transport.published.map((envelope) => envelope.id)).size).toBe(keys.length * 15);
      for (const order of firstPublishedOrder(transport.published).values())
        expect(order).toEqual([...order].sort((a, b) => a - b));
    } finally {
      await victim.close();
      await victimPool.end();
    }
  });

  it('a member whose share shrinks to no partition stands by, and leads again once one is free', async () => {
    const outbox = await newOutbox();
    const table = outbox.table.replaceAll('"', '');
    const transport = recordingTransport();
    const options = { transport, partitions: 2, rebalanceIntervalMs: 50 } as const;
    // The fleet ranks its members by backend pid. Each relay gets a pool whose one idle connection
    // is known: the relay on the highest pid ranks last, so once the other two join, its fair share
    // of two partitions is none.
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: url, max: 2 }));
    const clients = await Promise.all(pools.map((each) => each.connect()));
    const pids = clients.map((client) => (client as pg.PoolClient & { processID: number }).processID);
    for (const client of clients) client.release();
    const outboxes = [0, 1, 2]
      .sort((first, second) => (pids[first] as number) - (pids[second] as number))
      .map((index) => postgresOutbox(pools[index] as pg.Pool, { table }));
    const [firstOutbox, secondOutbox, lastOutbox] = outboxes as [PostgresOutbox, PostgresOutbox, PostgresOutbox];
    try {
      const last = track(lastOutbox.relay(options));
      await waitUntil(() => last.snapshot().partitions?.length === 2);
      const earlier = [firstOutbox, secondOutbox].map((each) => track(each.relay(options)));
      await waitUntil(() => earlier.every((relay) => relay.snapshot().partitions?.length === 1), 5_000);
      expect(last.snapshot()).toMatchObject({ role: 'standby', partitions: undefined, lagMs: undefined });
      // One of the others leaves: the standby takes its partition and leads again.
      await earlier[0]?.close();
      await waitUntil(() => last.snapshot().partitions?.length === 1, 5_000);
      expect(last.snapshot().role).toBe('leader');
    } finally {
      await Promise.all(outboxes.map((each) => each.close()));
      await Promise.all(pools.map((each) => each.end()));
    }
  });

  it('backs off with OutboxPartitionsMismatchError when another relay counts partitions differently', async () => {
    const outbox = await newOutbox();
    const transport = recordingTransport();
    const first = track(outbox.relay({ transport, partitions: 4, rebalanceIntervalMs: 50 }));
    await waitUntil(() => first.snapshot().partitions?.length === 4);
    const other = track(
      outbox.relay({ transport, partitions: 8, rebalanceIntervalMs: 50, backoff: constant({ ms: 60_000 }) }),
    );
    const failures: unknown[] = [];
    other.on('outbox-relay-failed', (event) => failures.push(event.error));
    await waitUntil(() => failures.length > 0);
    expect(failures[0]).toBeInstanceOf(OutboxPartitionsMismatchError);
    expect(failures[0]).toMatchObject({ code: 'OUTBOX_PARTITIONS_MISMATCH', partitions: 8, othersPartitions: [4] });
    expect(other.snapshot().role).toBe('standby');
    expect(first.snapshot().partitions).toEqual(allPartitions(4));
  });

  it('never runs a fleet beside a relay that publishes alone (partitions: 1)', async () => {
    const outbox = await newOutbox();
    const transport = recordingTransport();
    const alone = track(outbox.relay({ transport }));
    await waitUntil(() => alone.snapshot().role === 'leader');
    const member = track(outbox.relay({ transport, partitions: 4, queryTimeoutMs: 200 }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(member.snapshot().role).toBe('standby');
    await alone.close();
    await waitUntil(() => member.snapshot().partitions?.length === 4, 3_000);
  });
});
