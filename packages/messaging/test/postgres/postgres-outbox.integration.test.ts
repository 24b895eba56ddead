import type { OutboxRelay } from '@bulwark/messaging';
import { claimCheck, createEnvelope, type Envelope, isClaim, memoryBlobStore } from '@bulwark/messaging';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { constant } from '@bulwark/resilience';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { recordingTransport } from '../outbox/fixtures/recording-transport.js';
import { outboxTestBed, waitUntil } from './fixtures/outbox-test-bed.js';

const message = (key: string, sequence: number, topic = 'orders') =>
  createEnvelope({ topic, type: 'order.updated', key, payload: { key, sequence } });

const sequenceOf = (envelope: Envelope) => (envelope.payload as { sequence: number }).sequence;

await describeWithServers('postgresOutbox', ['postgres'], ({ postgres: url }) => {
  const bed = outboxTestBed(url, 'outbox');
  const { pool, newOutbox, track } = bed;

  describe('migrate', () => {
    it('can run concurrently and again', async () => {
      const table = uniqueName('outbox');
      bed.dropLater(table);
      const outbox = postgresOutbox(pool, { table });
      await Promise.all([outbox.migrate(), outbox.migrate(), outbox.migrate()]);
      await outbox.migrate();
      const { rows } = await pool.query(
        `SELECT count(*)::int AS triggers FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`,
        [outbox.table],
      );
      expect(rows[0].triggers).toBe(1);
    });

    it('refuses new relays once closed', async () => {
      const outbox = await newOutbox();
      const relay = outbox.relay({ transport: recordingTransport() });
      await outbox.close();
      expect(relay.snapshot().role).toBe('closed');
      expect(() => outbox.relay({ transport: recordingTransport() })).toThrow(/closed/);
    });

    it('exports the SQL with every placeholder filled', async () => {
      const outbox = postgresOutbox(pool, { table: 'shop.orders_outbox' });
      const { claimPartitionsIndexed, partitionIndex, partitionIndexName, ...statements } = outbox.sql;
      for (const statement of [
        ...Object.values(statements),
        claimPartitionsIndexed(12),
        partitionIndex(12),
        partitionIndexName(12),
      ])
        expect(statement).not.toMatch(/\{\{/);
      expect(outbox.sql.migrate).toContain('"shop"."orders_outbox"');
      expect(partitionIndexName(12)).toBe('"shop"."orders_outbox_p12"');
    });

    it('works on a schema-qualified table with double-quoted parts (trigger, relay flag and lock named after it)', async () => {
      const schema = `Shop ${uniqueName('quoted')}`;
      await pool.query(`CREATE SCHEMA "${schema}"`);
      try {
        const outbox = postgresOutbox(pool, { table: `"${schema}"."Order ""outbox"""` });
        await outbox.migrate();
        await outbox.migrate(); // idempotent
        const transport = recordingTransport();
        track(outbox.relay({ transport }));
        await withTransaction(pool, (client) => outbox.add(client, [message('q', 1), message('q', 2)]));
        await transport.waitFor(2);
        expect(transport.published.map((envelope) => `${envelope.key}${sequenceOf(envelope)}`)).toEqual(['q1', 'q2']);
        await waitUntil(async () => (await outbox.lag()).pending === 0);
        const { rows } = await pool.query('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [schema]);
        expect(rows.map((row) => row.tablename)).toEqual(['Order "outbox"', 'Order "outbox"_relay']);
        // A fleet's partition index, named after the table too, replaced by one of another count.
        await outbox.migrate({ partitions: 4 });
        await outbox.migrate({ partitions: 6 });
        const indexes = await pool.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1', [schema]);
        expect(indexes.rows.map((row) => row.indexname)).toEqual([
          'Order "outbox"_p6',
          'Order "outbox"_pkey',
          'Order "outbox"_relay_pkey',
        ]);
        const ready = await pool.query(outbox.sql.partitionIndexReady, [outbox.sql.partitionIndexName(6)]);
        expect(ready.rows[0]?.ready).toBe(true);
        await outbox.close();
      } finally {
        await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
    });

    it('reports every relay option problem at once', () => {
      const outbox = postgresOutbox(pool, { table: 'never_created' });
      expect(() => outbox.relay({ transport: recordingTransport(), batchSize: -1, queryTimeoutMs: 0 })).toThrowError(
        expect.objectContaining({
          problems: [
            'batchSize must be an integer from 1 to 100000, got -1',
            'queryTimeoutMs must be a positive integer, got 0',
          ],
        }),
      );
    });

    it('rejects table names that are not plain identifiers', () => {
      expect(() => postgresOutbox(pool, { table: 'x"; DROP TABLE users; --' })).toThrow(
        /table must be an identifier or schema\.identifier/,
      );
    });
  });

  describe('add and relay', () => {
    it('publishes committed messages and never those of a rolled-back transaction', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const delivered: string[] = [];
      const subscription = await transport.inner.subscribe('orders', 'billing', async (delivery) => {
        delivered.push(`${delivery.message.key}${sequenceOf(delivery.message)}`);
      });
      track(outbox.relay({ transport }));
      await withTransaction(pool, (client) => outbox.add(client, [message('a', 1), message('a', 2)]));
      await expect(
        withTransaction(pool, async (client) => {
          await outbox.add(client, message('b', 1));
          throw new Error('business rule failed');
        }),
      ).rejects.toThrow('business rule failed');
      await withTransaction(pool, (client) =>
        outbox.add((text, values) => client.query(text, values), message('c', 1)),
      );
      await transport.waitFor(3);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(transport.published.map((envelope) => `${envelope.key}${sequenceOf(envelope)}`)).toEqual([
        'a1',
        'a2',
        'c1',
      ]);
      await waitUntil(async () => (await outbox.lag()).pending === 0);
      // Through the memory transport to a consumer group, as a service would receive them.
      await waitUntil(() => delivered.length === 3);
      // The memory transport keeps order per key (a2 waits for a1's ack); another key may pass.
      expect(delivered.filter((entry) => entry.startsWith('a'))).toEqual(['a1', 'a2']);
      expect([...delivered].sort()).toEqual(['a1', 'a2', 'c1']);
      await subscription.close();
    });

    it('keeps the whole envelope: id, type, key, headers, payload', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      track(outbox.relay({ transport }));
      const original = createEnvelope({
        topic: 'users',
        type: 'user.registered',
        key: 'u1',
        groupId: 'g1',
        payload: { email: 'a@example.com', tags: ['x'], nested: { n: 1 } },
        headers: { traceparent: '00-abc-def-01' },
      });
      await withTransaction(pool, (client) => outbox.add(client, original));
      await transport.waitFor(1);
      expect(transport.published[0]).toEqual(original);
      expect(transport.calls[0]?.topic).toBe('users');
    });

    it('is woken by NOTIFY at commit, not by the poll', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const relay = track(outbox.relay({ transport, pollIntervalMs: 60_000 }));
      await waitUntil(() => relay.snapshot().role === 'leader');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const committedAt = Date.now();
      await withTransaction(pool, (client) => outbox.add(client, message('n', 1)));
      await transport.waitFor(1, 5_000);
      expect(Date.now() - committedAt).toBeLessThan(1_000);
    });

    it('is not woken by commits with listen: false (e.g. behind PgBouncer in transaction mode), only by its poll', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const relay = track(outbox.relay({ transport, listen: false, pollIntervalMs: 60_000 }));
      await waitUntil(() => relay.snapshot().role === 'leader');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await withTransaction(pool, (client) => outbox.add(client, message('p', 1)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(transport.published).toEqual([]);
      await relay.close();
      track(outbox.relay({ transport, listen: false, pollIntervalMs: 60_000 })); // reads at start
      await transport.waitFor(1, 5_000);
    });

    it('makes writers NOTIFY at commit only while the relay asks for it', async () => {
      const outbox = await newOutbox();
      const relayTable = outbox.table.replace(/"$/, '_relay"');
      const listener = await pool.connect();
      const notifications: string[] = [];
      listener.on('notification', (notification) => notifications.push(notification.channel));
      try {
        await listener.query(`LISTEN "${outbox.sql.channel}"`);
        await pool.query(`UPDATE ${relayTable} SET notify = false`); // a busy relay
        await withTransaction(pool, (client) => outbox.add(client, [message('q', 1), message('q', 2)]));
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(notifications).toEqual([]);
        await pool.query(`UPDATE ${relayTable} SET notify = true`); // an idle relay
        await withTransaction(pool, (client) => outbox.add(client, [message('q', 3), message('q', 4)]));
        await waitUntil(() => notifications.length > 0, 2_000);
        expect(notifications).toEqual([outbox.sql.channel]); // one per transaction
        await expect(
          withTransaction(pool, async (client) => {
            await outbox.add(client, message('q', 5));
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(notifications).toHaveLength(1);
      } finally {
        listener.release(true);
      }
    });

    it('reads the wake-up flag once per committing transaction, not once per row', async () => {
      const outbox = await newOutbox();
      const relayTable = outbox.table.replace(/"$/, '_relay"');
      const readsSoFar = async (client: pg.PoolClient) => {
        // This backend's counts not yet reported, earlier transactions' included: only differences tell.
        const { rows } = await client.query(
          `SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS reads FROM pg_stat_xact_user_tables WHERE relid = $1::regclass`,
          [relayTable],
        );
        return Number(rows[0]?.reads ?? 0);
      };
      /** Reads of the flag table by the commit-time triggers of a transaction that adds `count` messages. */
      const flagReads = (count: number) =>
        withTransaction(pool, async (client) => {
          await outbox.add(
            client,
            Array.from({ length: count }, (_, index) => message('f', index)),
          );
          const before = await readsSoFar(client);
          // Fires the deferred trigger now, as COMMIT would.
          await client.query('SET CONSTRAINTS ALL IMMEDIATE');
          return (await readsSoFar(client)) - before;
        });
      expect(await flagReads(100)).toBe(1);
      expect(await flagReads(1)).toBe(1);
    });

    it('turns wake-ups off while busy and back on when idle; a polling relay turns them off', async () => {
      const outbox = await newOutbox();
      const relayTable = outbox.table.replace(/"$/, '_relay"');
      const notify = async () => (await pool.query(`SELECT notify FROM ${relayTable}`)).rows[0].notify as boolean;
      const transport = recordingTransport();
      const relay = track(outbox.relay({ transport, batchSize: 10 }));
      await waitUntil(() => relay.snapshot().role === 'leader');
      await waitUntil(notify);
      let sawBusy = false;
      const publish = transport.publish;
      transport.publish = async (topic, messages, options) => {
        if (!(await notify())) sawBusy = true;
        await publish(topic, messages, options);
      };
      await withTransaction(pool, (client) =>
        outbox.add(
          client,
          Array.from({ length: 50 }, (_, index) => message('b', index)),
        ),
      );
      await transport.waitFor(50);
      expect(sawBusy).toBe(true);
      await waitUntil(notify, 2_000);
      await relay.close();
      track(outbox.relay({ transport, listen: false }));
      await waitUntil(async () => !(await notify()), 2_000);
    });

    it('publishes in commit order when a transaction with a lower position commits last', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      track(outbox.relay({ transport, pollIntervalMs: 20 }));
      const first = await pool.connect();
      const second = await pool.connect();
      try {
        await first.query('BEGIN');
        await outbox.add(first, message('early', 1));
        await second.query('BEGIN');
        await outbox.add(second, message('late', 1));
        await second.query('COMMIT');
        // The second transaction went out although the first, with the lower position, is
        // still running: the relay does not wait for unrelated transactions.
        await transport.waitFor(1);
        expect(transport.published.map((envelope) => envelope.key)).toEqual(['late']);
        await first.query('COMMIT');
      } finally {
        first.release();
        second.release();
      }
      await transport.waitFor(2);
      expect(transport.published.map((envelope) => envelope.key)).toEqual(['late', 'early']);
    });

    it('keeps commit order for a key whose writers take turns, even when the later one started first', async () => {
      // Ordering by transaction id (xid8) would fail here: the second writer takes its
      // transaction id before waiting for the key's lock, then commits after the first.
      const outbox = await newOutbox();
      const versions = uniqueName('versions');
      bed.dropLater(versions);
      await pool.query(`CREATE TABLE "${versions}" (key text PRIMARY KEY, version int NOT NULL)`);
      await pool.query(`INSERT INTO "${versions}" VALUES ('k', 0), ('other', 0)`);
      const transport = recordingTransport();
      track(outbox.relay({ transport, pollIntervalMs: 20 }));
      const bump = async (client: pg.PoolClient, key: string) => {
        const { rows } = await client.query(
          `UPDATE "${versions}" SET version = version + 1 WHERE key = $1 RETURNING version`,
          [key],
        );
        await outbox.add(client, message(key, rows[0].version));
      };
      const later = await pool.connect();
      const earlier = await pool.connect();
      try {
        await later.query('BEGIN');
        await bump(later, 'other'); // takes a transaction id first
        await earlier.query('BEGIN');
        await bump(earlier, 'k'); // holds the lock of key k
        const laterWrite = bump(later, 'k'); // waits for that lock
        await new Promise((resolve) => setTimeout(resolve, 50));
        await earlier.query('COMMIT');
        await laterWrite;
        await later.query('COMMIT');
      } finally {
        later.release();
        earlier.release();
      }
      await transport.waitFor(3);
      expect(transport.published.filter((envelope) => envelope.key === 'k').map(sequenceOf)).toEqual([1, 2]);
    });

    it('runs several relays without publishing anything twice, one leader at a time', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const running = [1, 2, 3].map(() => track(outbox.relay({ transport, batchSize: 50 })));
      const keys = ['a', 'b', 'c', 'd'];
      await Promise.all(
        keys.map(async (key) => {
          for (let sequence = 1; sequence <= 100; sequence++)
            await withTransaction(pool, (client) => outbox.add(client, message(key, sequence)));
        }),
      );
      await transport.waitFor(400);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(transport.published).toHaveLength(400);
      expect(new Set(transport.published.map((envelope) => envelope.id)).size).toBe(400);
      for (const key of keys)
        expect(transport.published.filter((envelope) => envelope.key === key).map(sequenceOf)).toEqual(
          Array.from({ length: 100 }, (_, index) => index + 1),
        );
      expect(running.filter((relay) => relay.snapshot().role === 'leader')).toHaveLength(1);
      // The leader closes: a standby takes over and publishes what comes next.
      const leader = running.find((relay) => relay.snapshot().role === 'leader') as OutboxRelay;
      await leader.close();
      expect(leader.snapshot().role).toBe('closed');
      await withTransaction(pool, (client) => outbox.add(client, message('a', 101)));
      await transport.waitFor(401);
      expect(running.filter((relay) => relay.snapshot().role === 'leader')).toHaveLength(1);
    });

    it('closes a standby promptly while another relay leads', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const leader = track(outbox.relay({ transport }));
      await waitUntil(() => leader.snapshot().role === 'leader');
      const standby = outbox.relay({ transport });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(standby.snapshot().role).toBe('standby');
      const startedAt = Date.now();
      await standby.close();
      expect(Date.now() - startedAt).toBeLessThan(2_000);
      expect(standby.snapshot().role).toBe('closed');
    });

    it('keeps a standby waiting quietly through its bounded lock waits, then takes over', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const leader = track(outbox.relay({ transport }));
      await waitUntil(() => leader.snapshot().role === 'leader');
      const standby = track(outbox.relay({ transport, queryTimeoutMs: 200 }));
      const failures: unknown[] = [];
      standby.on('outbox-relay-failed', (event) => failures.push(event.error));
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // about five lock_timeouts
      expect(failures).toEqual([]);
      expect(standby.snapshot().role).toBe('standby');
      await leader.close();
      await waitUntil(() => standby.snapshot().role === 'leader', 3_000);
      await withTransaction(pool, (client) => outbox.add(client, message('s', 1)));
      await transport.waitFor(1);
    });

    it('closes a standby even when its pool has no connection left to cancel the wait with', async () => {
      const outbox = await newOutbox();
      const small = new pg.Pool({ connectionString: url, max: 2 });
      try {
        const sameTable = postgresOutbox(small, { table: outbox.table.replaceAll('"', '') });
        const transport = recordingTransport();
        const leader = sameTable.relay({ transport });
        await waitUntil(() => leader.snapshot().role === 'leader');
        const standby = sameTable.relay({ transport });
        await waitUntil(() => small.totalCount === 2 && small.idleCount === 0);
        const startedAt = Date.now();
        await standby.close();
        expect(Date.now() - startedAt).toBeLessThan(3_000);
        await leader.close();
      } finally {
        await small.end();
      }
    });

    it('keeps rows while the broker is down and publishes them in order when it returns', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      transport.down = true;
      const relay = track(outbox.relay({ transport, backoff: constant({ ms: 25 }) }));
      const failures: number[] = [];
      relay.on('outbox-publish-failed', (event) => failures.push(event.attempt));
      for (let sequence = 1; sequence <= 20; sequence++)
        await withTransaction(pool, (client) => outbox.add(client, message('k', sequence)));
      await waitUntil(() => transport.failures >= 5);
      expect((await outbox.lag()).pending).toBe(20);
      expect(relay.snapshot().lagMs).toBeGreaterThan(0);
      expect(relay.snapshot().lastError).toBeInstanceOf(Error);
      transport.down = false;
      await transport.waitFor(20);
      expect(transport.published.map(sequenceOf)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
      expect(failures.slice(0, 3)).toEqual([1, 2, 3]);
      await waitUntil(async () => (await outbox.lag()).pending === 0);
      await waitUntil(() => relay.snapshot().lagMs === 0);
      expect(relay.snapshot().dispatched).toBe(20);
    });

    it('publishes other topics, also rows committed later, while one topic keeps failing; that topic then goes out in order', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const publish = transport.publish;
      let refusing = true;
      transport.publish = async (topic, messages, options) => {
        if (topic === 'refunds' && refusing) throw new Error('exchange refunds not found');
        await publish(topic, messages, options);
      };
      const relay = track(outbox.relay({ transport, backoff: constant({ ms: 25 }) }));
      await withTransaction(pool, async (client) => {
        await outbox.add(client, [message('r', 1, 'refunds'), message('o', 1)]);
      });
      await waitUntil(() => transport.published.length === 1);
      for (let sequence = 2; sequence <= 10; sequence++)
        await withTransaction(pool, (client) =>
          outbox.add(client, [message('o', sequence), message('r', sequence, 'refunds')]),
        );
      await transport.waitFor(10);
      expect(transport.published.map((envelope) => `${envelope.topic}:${sequenceOf(envelope)}`)).toEqual(
        Array.from({ length: 10 }, (_, index) => `orders:${index + 1}`),
      );
      await waitUntil(async () => (await outbox.lag()).pending === 10);
      expect(relay.snapshot().lagMs).toBeGreaterThan(0);
      refusing = false;
      await transport.waitFor(20);
      expect(transport.published.filter((envelope) => envelope.topic === 'refunds').map(sequenceOf)).toEqual(
        Array.from({ length: 10 }, (_, index) => index + 1),
      );
      await waitUntil(async () => (await outbox.lag()).pending === 0);
      expect(relay.snapshot().dispatched).toBe(20);
    });

    it('checks payloads in through the claim check before publishing', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const checkedIn: string[] = [];
      const claimCheck = {
        async checkIn<Payload>(envelope: Envelope<Payload>): Promise<Envelope> {
          checkedIn.push(envelope.id);
          return { ...envelope, payload: { claim: { ref: `blob-${envelope.id}` } } };
        },
      };
      track(outbox.relay({ transport, claimCheck }));
      const big = createEnvelope({ topic: 'reports', type: 'report.ready', payload: { body: 'x'.repeat(100_000) } });
      await withTransaction(pool, (client) => outbox.add(client, big));
      await transport.waitFor(1);
      expect(checkedIn).toEqual([big.id]);
      expect(transport.published[0]?.payload).toEqual({ claim: { ref: `blob-${big.id}` } });
    });

    it('moves big payloads to the blob store with claimCheck() and leaves small ones inline', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 1_000 });
      track(outbox.relay({ transport, claimCheck: checks }));
      const big = createEnvelope({ topic: 'reports', type: 'report.ready', payload: { body: 'x'.repeat(50_000) } });
      const small = createEnvelope({ topic: 'reports', type: 'report.ready', payload: { body: 'tiny' } });
      await withTransaction(pool, (client) => outbox.add(client, [big, small]));
      await transport.waitFor(2);
      const [published, inline] = transport.published as [Envelope, Envelope];
      expect(isClaim(published.payload)).toBe(true);
      expect(inline.payload).toEqual({ body: 'tiny' });
      expect((await checks.checkOut(published)).payload).toEqual(big.payload);
    });

    it('reconnects after its connection is terminated', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      const relay = track(outbox.relay({ transport, backoff: constant({ ms: 20 }) }));
      const failed: unknown[] = [];
      relay.on('outbox-relay-failed', (event) => failed.push(event.error));
      await waitUntil(() => relay.snapshot().role === 'leader');
      // Kill the leader's backend (the one holding the leader lock), as a failover or restart would.
      const { rows } = await pool.query(
        `SELECT pg_terminate_backend(pid) AS terminated FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 2
           AND classid = hashtext('bulwark.outbox')::oid AND objid = hashtext($1)::oid`,
        [outbox.sql.lockName],
      );
      expect(rows).toEqual([{ terminated: true }]);
      await waitUntil(() => failed.length > 0);
      await withTransaction(pool, (client) => outbox.add(client, message('r', 1)));
      await transport.waitFor(1);
      expect(relay.snapshot().role).toBe('leader');
    });

    it('reports throughput and dispatch events', async () => {
      const outbox = await newOutbox();
      const transport = recordingTransport();
      await withTransaction(pool, (client) =>
        outbox.add(
          client,
          Array.from({ length: 300 }, (_, index) => message(`k${index % 7}`, index)),
        ),
      );
      const relay = track(outbox.relay({ transport, batchSize: 100 }));
      const dispatched: number[] = [];
      relay.on('outbox-dispatched', (event) => dispatched.push(event.count));
      await transport.waitFor(300);
      await waitUntil(() => relay.snapshot().dispatched === 300);
      expect(dispatched.reduce((sum, count) => sum + count, 0)).toBe(300);
      expect(relay.snapshot().throughputPerSecond).toBeGreaterThan(0);
      expect(transport.calls.every((call) => call.messages.length <= 100)).toBe(true);
    });
  });
});
