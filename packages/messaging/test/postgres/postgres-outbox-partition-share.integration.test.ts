import { postgresOutboxSql } from '@bulwark/messaging/postgres';
import { manualClock } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterEach, expect, it } from 'vitest';
import { OutboxPartitionShare } from '../../src/postgres/postgres-outbox-fleet.js';

const partitions = 4;
const intervalMs = 1_000;

await describeWithServers('postgresOutbox partition share', ['postgres'], ({ postgres: url }) => {
  const clients: pg.Client[] = [];
  const shares: OutboxPartitionShare[] = [];
  afterEach(async () => {
    for (const share of shares.splice(0)) await share.stop();
    await Promise.all(clients.splice(0).map((client) => client.end()));
  });

  /**
   * A fleet member on a connection of its own, statements counted by kind; `start(busy)` starts its
   * share's timer with a read on the connection or not, collecting what failed in `failures`.
   */
  async function member(table: string, clock = manualClock(0)) {
    const sql = postgresOutboxSql({ table });
    const client = new pg.Client({ connectionString: url });
    clients.push(client);
    await client.connect();
    const { rows } = await client.query<{ pid: number }>(sql.fleetJoin, [sql.lockName]);
    const sent = { members: 0, release: 0 };
    const share = new OutboxPartitionShare(
      (text, values) => {
        if (text === sql.fleetMembers) sent.members += 1;
        if (text === sql.partitionRelease) sent.release += 1;
        return client.query(text, values);
      },
      { members: sql.fleetMembers, take: sql.partitionTake, release: sql.partitionRelease },
      { lockName: sql.lockName, partitions, rebalanceIntervalMs: intervalMs, processId: rows[0]?.pid ?? 0, clock },
    );
    shares.push(share);
    await share.rebalance();
    const failures: unknown[] = [];
    const start = (busy: boolean) =>
      share.start(
        () => busy,
        (error) => failures.push(error),
      );
    return { share, sent, clock, client, sql, failures, start };
  }

  it('rebalances on its own timer while no read is on the connection, and a read then only gives partitions up', async () => {
    const table = uniqueName('share_timer');
    const first = await member(table);
    expect(first.share.readable()).toEqual([0, 1, 2, 3]);
    first.start(false);
    await member(table);
    // Due: the timer reads the fleet at once, with no read asking for it.
    await first.clock.advanceAsync(intervalMs);
    expect(first.sent.members).toBe(2);
    // The newcomer's half is being given up: nothing of it is read any more.
    await expect.poll(() => first.share.readable()).toEqual([0, 1]);
    // The next read gives them up (nothing of them is outstanding) and sends nothing else.
    await first.share.refresh([]);
    expect(first.sent).toEqual({ members: 2, release: 2 });
    expect(first.share.partitions()).toEqual([0, 1]);
    // Then a read has nothing to wait for until the next tick.
    expect(first.share.refresh([])).toBeUndefined();
    expect(first.failures).toEqual([]);
  });

  it('leaves the connection to a read in flight at its tick; a read a whole interval late rebalances in front of itself', async () => {
    const table = uniqueName('share_busy');
    const first = await member(table);
    first.start(true);
    await member(table);
    await first.clock.advanceAsync(intervalMs);
    expect(first.sent.members).toBe(1);
    expect(first.share.refresh([])).toBeUndefined();
    await first.clock.advanceAsync(intervalMs);
    expect(first.sent.members).toBe(1);
    const refreshing = first.share.refresh([]);
    expect(refreshing).toBeInstanceOf(Promise);
    await refreshing;
    expect(first.sent.members).toBe(2);
    expect(first.share.readable()).toEqual([0, 1]);
  });

  it('reports a rebalance of its timer that failed (another partition count) and stops ticking', async () => {
    const table = uniqueName('share_failed');
    const first = await member(table);
    first.start(false);
    // Another relay of the table, counting 8 partitions, holds one of its partitions.
    const other = await member(table);
    await other.client.query(other.sql.partitionTake, [other.sql.lockName, 8 * 65_536 + 5]);
    await first.clock.advanceAsync(intervalMs);
    await expect.poll(() => first.failures.length).toBe(1);
    expect(first.failures[0]).toMatchObject({
      name: 'OutboxPartitionsMismatchError',
      partitions,
      othersPartitions: [8],
    });
    await first.clock.advanceAsync(intervalMs * 3);
    expect(first.sent.members).toBe(2);
  });

  it('reads the fleet no more once stopped', async () => {
    const table = uniqueName('share_stopped');
    const first = await member(table);
    first.start(false);
    await first.share.stop();
    await member(table);
    await first.clock.advanceAsync(intervalMs * 3);
    expect(first.sent.members).toBe(1);
    expect(first.share.readable()).toEqual([0, 1, 2, 3]);
  });
});
