import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Envelope } from '@bulwark/messaging';
import { createEnvelope } from '@bulwark/messaging';
import { postgresOutbox, postgresTransport } from '@bulwark/messaging/postgres';
import { constant } from '@bulwark/resilience';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, startTypeScriptChild, type TypeScriptChild, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { faultyProxy } from './fixtures/tcp-proxy.js';

const here = dirname(fileURLToPath(import.meta.url));
const relayScript = join(here, 'fixtures/outbox-relay-child.ts');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const randomInt = (below: number) => Math.floor(Math.random() * below);

interface RelayChild extends TypeScriptChild {
  /** Time the child last reported taking leadership; 0 when it never did. */
  leaderSince: number;
}

/** How the relays of a run share the outbox: `partitions` 1 is one leader and standbys. */
interface Fleet {
  readonly partitions: number;
  readonly publishConcurrency: number;
}

function startRelay(url: string, table: string, sink: string, fleet: Fleet): RelayChild {
  const started = startTypeScriptChild(relayScript, {
    args: [url, table, sink, String(fleet.partitions), String(fleet.publishConcurrency)],
    stderrLabel: 'relay',
    onLine: (line) => {
      if (line === 'leader') relay.leaderSince = Date.now();
    },
  });
  const relay: RelayChild = { ...started, leaderSince: 0 };
  return relay;
}

await describeWithServers('postgresOutbox under SIGKILL', ['postgres'], ({ postgres: url }) => {
  let pool: pg.Pool;
  const table = uniqueName('outbox_fault');
  const sink = `${table}_sink`;
  const versions = `${table}_versions`;
  const keys = Array.from({ length: 100 }, (_, index) => `key-${index}`);

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 12 });
    await postgresOutbox(pool, { table }).migrate();
    await pool.query(
      `CREATE TABLE "${sink}" (sequence bigserial PRIMARY KEY, message_id text NOT NULL, key text NOT NULL, version int NOT NULL, relay_pid int NOT NULL)`,
    );
    await pool.query(`CREATE TABLE "${versions}" (key text PRIMARY KEY, version int NOT NULL DEFAULT 0)`);
    await pool.query(`INSERT INTO "${versions}" (key) SELECT unnest($1::text[])`, [keys]);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay", "${sink}", "${versions}"`);
    await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    await pool.end();
  });

  /**
   * 8 writers commit while relays are SIGKILLed and restarted (three alive); then checks the sink:
   * every committed message published at least once, none rolled back, per-key order of first
   * publication, and reports the duplicates.
   */
  async function publishWhileKilling(table: string, fleet: Fleet): Promise<void> {
    // A fleet's table gets its partition index: the members read through it, as set up in real life.
    await postgresOutbox(pool, { table }).migrate({ partitions: fleet.partitions });
    await pool.query(`TRUNCATE "${sink}"`);
    await pool.query(`UPDATE "${versions}" SET version = 0`);
    try {
      const outbox = postgresOutbox(pool, { table });
      const relays: RelayChild[] = [0, 1, 2].map(() => startRelay(url, table, sink, fleet));
      const target = 10_000;
      const committed = new Map<string, { key: string; version: number }>();
      const rolledBack = new Set<string>();
      let writing = true;
      let kills = 0;

      // 8 writers. Writers of a key take turns through the key's version row (as an aggregate's
      // row lock would make them): each transaction bumps 1-3 keys (locked in sorted order, so
      // writers never deadlock), sleeps a little while holding them, and one in ten rolls back.
      const writer = async () => {
        while (committed.size < target) {
          const chosen = [
            ...new Set(Array.from({ length: 1 + randomInt(3) }, () => keys[randomInt(keys.length)] as string)),
          ].sort();
          const rollBack = randomInt(10) === 0;
          const written: { id: string; key: string; version: number }[] = [];
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            for (const key of chosen) {
              const { rows } = await client.query(
                `UPDATE "${versions}" SET version = version + 1 WHERE key = $1 RETURNING version`,
                [key],
              );
              const version = rows[0].version as number;
              const batch = Array.from({ length: 1 + randomInt(4) }, (_, index) =>
                createEnvelope({ topic: 'orders', type: 'order.changed', key, payload: { version, index } }),
              );
              // Several messages of one key in one transaction: the version repeats, order by index.
              await outbox.add(client, batch);
              for (const envelope of batch)
                written.push({
                  id: envelope.id,
                  key,
                  version: version * 10 + (envelope.payload as { index: number }).index,
                });
            }
            if (randomInt(4) === 0) await sleep(randomInt(5));
            if (rollBack) {
              await client.query('ROLLBACK');
              for (const message of written) rolledBack.add(message.id);
            } else {
              await client.query('COMMIT');
              for (const message of written) committed.set(message.id, { key: message.key, version: message.version });
            }
          } catch (error) {
            await client.query('ROLLBACK').catch(() => {});
            throw error;
          } finally {
            client.release();
          }
        }
      };

      // Kills a relay every 150-500 ms — the current leader two times out of three — and starts
      // a replacement, keeping three alive.
      // Kills go on while writers write, at least `minimumKills` times whatever the writers' speed,
      // and at most `maximumKills` times (each restart costs a Node start on a busy machine).
      const minimumKills = 10;
      const maximumKills = 40;
      const chaos = async () => {
        while ((writing || kills < minimumKills) && kills < maximumKills) {
          await sleep(150 + randomInt(350));
          const alive = relays.filter((relay) => relay.child.exitCode === null && relay.child.signalCode === null);
          const leader = alive.reduce<RelayChild | undefined>(
            (latest, relay) => (relay.leaderSince > (latest?.leaderSince ?? 0) ? relay : latest),
            undefined,
          );
          const victim = leader && randomInt(3) > 0 ? leader : alive[randomInt(alive.length)];
          if (!victim) continue;
          // A fleet also loses two members at once, one time in three.
          const second = alive.filter((relay) => relay !== victim)[randomInt(alive.length - 1)];
          const victims = fleet.partitions > 1 && second && randomInt(3) === 0 ? [victim, second] : [victim];
          for (const dead of victims) {
            dead.child.kill('SIGKILL');
            kills += 1;
          }
          for (const _ of victims) relays.push(startRelay(url, table, sink, fleet));
        }
      };

      await Promise.all(relays.map((relay) => relay.ready));
      if (fleet.partitions > 1) {
        // Every member publishes (holds partitions) before the first kill, not one leader alone.
        const deadline = Date.now() + 15_000;
        while (relays.some((relay) => relay.leaderSince === 0)) {
          if (Date.now() > deadline) throw new Error('the fleet did not share its partitions');
          await sleep(20);
        }
      }
      const startedAt = Date.now();
      const chaosDone = chaos();
      try {
        await Promise.all(Array.from({ length: 8 }, writer));
      } finally {
        writing = false;
        await chaosDone;
      }
      const writtenAt = Date.now();

      // Let the surviving relays drain the outbox.
      const deadline = Date.now() + 30_000;
      while ((await outbox.lag()).pending > 0) {
        if (Date.now() > deadline) throw new Error(`outbox not drained: ${JSON.stringify(await outbox.lag())}`);
        await sleep(100);
      }
      for (const relay of relays) relay.child.kill('SIGKILL');

      const { rows } = await pool.query<{ message_id: string; key: string }>(
        `SELECT message_id, key FROM "${sink}" ORDER BY sequence`,
      );
      const published = new Set(rows.map((row) => row.message_id));
      const missing = [...committed.keys()].filter((id) => !published.has(id));
      expect(missing).toEqual([]);
      expect(rows.filter((row) => rolledBack.has(row.message_id))).toEqual([]);
      expect(rows.filter((row) => !committed.has(row.message_id))).toEqual([]);

      // Per key, the first publication of each message follows commit order.
      const firstSeen = new Set<string>();
      const orderByKey = new Map<string, number[]>();
      for (const row of rows) {
        if (firstSeen.has(row.message_id)) continue;
        firstSeen.add(row.message_id);
        const message = committed.get(row.message_id) as { key: string; version: number };
        const list = orderByKey.get(message.key) ?? [];
        list.push(message.version);
        orderByKey.set(message.key, list);
      }
      for (const [key, order] of orderByKey)
        expect({ key, order }).toEqual({ key, order: [...order].sort((a, b) => a - b) });

      expect(committed.size).toBeGreaterThanOrEqual(target);
      expect(rolledBack.size).toBeGreaterThan(0);
      expect(kills).toBeGreaterThanOrEqual(minimumKills);
      console.info(
        `[outbox fault, partitions ${fleet.partitions}, publishConcurrency ${fleet.publishConcurrency}] ${committed.size} committed in ${writtenAt - startedAt} ms, drained ${Date.now() - writtenAt} ms later; ${rolledBack.size} rolled back, ${kills} relays killed, ${rows.length - published.size} duplicates published`,
      );
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    }
  }

  it('publishes every committed message at least once, in key order, and nothing rolled back, while relays are SIGKILLed', async () => {
    await publishWhileKilling(table, { partitions: 1, publishConcurrency: 1 });
  });

  it('does the same with three active relays sharing six partitions, publishing keys side by side, SIGKILLed and restarted', async () => {
    await publishWhileKilling(`${table}_fleet`, { partitions: 6, publishConcurrency: 4 });
  });

  it('keeps rows while the broker is unreachable and publishes them, in key order, when it returns', async () => {
    // The "broker" is the PostgreSQL transport reached through a proxy that is cut for 2 s.
    const proxy = await faultyProxy(new URL(url));
    const brokerPool = new pg.Pool({ connectionString: proxy.url, max: 3, connectionTimeoutMillis: 1_000 });
    brokerPool.on('error', () => {});
    const messages = `${table}_messages`;
    const publisher = postgresTransport(brokerPool, { table: messages, listen: false, onError: () => {} });
    const consumer = postgresTransport(pool, { table: messages });
    await consumer.migrate();
    const received: Envelope[] = [];
    const subscription = await consumer.subscribe(
      'payments',
      'ledger',
      async (delivery) => {
        received.push(delivery.message);
      },
      { prefetch: 1 },
    );
    const outbox = postgresOutbox(pool, { table: `${table}_broker` });
    await outbox.migrate();
    const relay = outbox.relay({ transport: publisher, batchSize: 50, backoff: constant({ ms: 100 }) });
    let publishFailures = 0;
    relay.on('outbox-publish-failed', () => {
      publishFailures += 1;
    });
    const committed: string[] = [];
    const write = async (count: number) => {
      for (let index = 0; index < count; index++) {
        const message = createEnvelope({
          topic: 'payments',
          type: 'payment.captured',
          key: `account-${index % 5}`,
          payload: { sequence: committed.length },
        });
        await withTransaction(pool, (client) => outbox.add(client, message));
        committed.push(message.id);
      }
    };
    try {
      await write(100);
      proxy.cut();
      await write(300);
      await sleep(2_000);
      // While the broker is away the rows wait in the outbox and the relay reports the lag.
      expect(publishFailures).toBeGreaterThan(0);
      expect((await outbox.lag()).pending).toBeGreaterThan(0);
      expect(relay.snapshot().lagMs).toBeGreaterThan(1_000);
      proxy.restore();
      await write(100);
      const deadline = Date.now() + 30_000;
      while (new Set(received.map((message) => message.id)).size < committed.length) {
        if (Date.now() > deadline) throw new Error(`received ${received.length} of ${committed.length}`);
        await sleep(50);
      }
      expect((await outbox.lag()).pending).toBe(0);
      const firstSeen = new Map<string, number>();
      for (const message of received)
        if (!firstSeen.has(message.id)) firstSeen.set(message.id, (message.payload as { sequence: number }).sequence);
      expect([...firstSeen.keys()].sort()).toEqual([...committed].sort());
      for (let account = 0; account < 5; account++) {
        const order = received
          .filter((message) => message.key === `account-${account}`)
          .map((message) => (message.payload as { sequence: number }).sequence)
          .filter((sequence, index, all) => all.indexOf(sequence) === index);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    } finally {
      await relay.close();
      await subscription.close();
      await consumer.close();
      await publisher.close().catch(() => {});
      await brokerPool.end().catch(() => {});
      await proxy.close();
      await pool.query(
        `DROP TABLE IF EXISTS "${table}_broker", "${table}_broker_relay", "${messages}", "${messages}_groups"`,
      );
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_broker_notify"()`);
    }
  });

  it('drops a leader connection that went silent (half-open) and publishes again once the network is back', async () => {
    const proxy = await faultyProxy(new URL(url));
    const relayPool = new pg.Pool({ connectionString: proxy.url, max: 3, connectionTimeoutMillis: 500 });
    relayPool.on('error', () => {});
    const outbox = postgresOutbox(pool, { table: `${table}_silent` });
    await outbox.migrate();
    const received: string[] = [];
    const transport = {
      async publish(_topic: string, messages: readonly Envelope[]) {
        received.push(...messages.map((message) => message.id));
      },
    };
    const relay = postgresOutbox(relayPool, { table: `${table}_silent` }).relay({
      transport,
      queryTimeoutMs: 500,
      pollIntervalMs: 100,
      backoff: constant({ ms: 100 }),
    });
    const failures: unknown[] = [];
    relay.on('outbox-relay-failed', (event) => failures.push(event.error));
    const add = async () => {
      const message = createEnvelope({ topic: 'orders', type: 'order.placed', key: 'k', payload: {} });
      await withTransaction(pool, (client) => outbox.add(client, message));
      return message.id;
    };
    try {
      const first = await add();
      while (!received.includes(first)) await sleep(20);
      proxy.blackhole();
      const second = await add(); // committed while the relay's network is silent
      await sleep(1_500);
      expect(received).not.toContain(second);
      expect(failures.length).toBeGreaterThan(0);
      expect(String(failures[0])).toMatch(/timeout/i);
      proxy.restore();
      const deadline = Date.now() + 15_000;
      while (!received.includes(second)) {
        if (Date.now() > deadline) throw new Error('not published after the network came back');
        await sleep(20);
      }
      expect(relay.snapshot().role).toBe('leader');
    } finally {
      await relay.close();
      await relayPool.end().catch(() => {});
      await proxy.close();
      await pool.query(`DROP TABLE IF EXISTS "${table}_silent", "${table}_silent_relay"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_silent_notify"()`);
    }
  });
});
