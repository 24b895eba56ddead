import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnvelope, type Envelope } from '@bulwark/messaging';
import { postgresIdempotencyStore, postgresInbox, postgresTransport } from '@bulwark/messaging/postgres';
import { describeWithServers, startTypeScriptChild, type TypeScriptChild, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const consumerScript = join(here, 'fixtures/consumer-child.ts');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ConsumerChild extends TypeScriptChild {
  /** The last snapshot the child printed. */
  stats: { handled: number; duplicates: number; transactionalDuplicates: number } | undefined;
}

function startConsumer(args: readonly string[]): ConsumerChild {
  const started = startTypeScriptChild(consumerScript, {
    args,
    stderrLabel: 'consumer',
    onLine: (line) => {
      if (line.startsWith('stats ')) handle.stats = JSON.parse(line.slice(6));
    },
  });
  const handle: ConsumerChild = { ...started, stats: undefined };
  return handle;
}

await describeWithServers('consume on postgresTransport under SIGKILL', ['postgres'], ({ postgres: url }) => {
  const table = uniqueName('fault_messages');
  const inboxTable = `${table}_inbox`;
  const effectsTable = `${table}_effects`;
  const topic = 'orders';
  const group = 'billing';
  const applicationName = uniqueName('fault_consumer');
  const total = 10_000;
  /** Also published a second time, as a relay that crashed after publishing would: the inbox must skip them. */
  const republished = 500;
  let pool: pg.Pool;
  const children: ConsumerChild[] = [];

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {});
    await postgresTransport(pool, { table }).migrate();
    await postgresIdempotencyStore(pool, { table: inboxTable }).migrate();
    await postgresInbox(pool, { table: `${inboxTable}_tx` }).migrate();
    await pool.query(
      `CREATE TABLE "${effectsTable}" (message_id text PRIMARY KEY, runs int NOT NULL, pid int NOT NULL)`,
    );
  });

  afterAll(async () => {
    for (const consumer of children) consumer.child.kill('SIGKILL');
    await pool.query(
      `DROP TABLE IF EXISTS "${table}", "${table}_groups", "${inboxTable}", "${inboxTable}_tx", "${effectsTable}"`,
    );
    await pool.end();
  });

  const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);

  it('handles every one of 10,000 messages after a consumer is SIGKILLed mid-run, each effect exactly once', async () => {
    const transport = postgresTransport(pool, { table });
    await transport.declareGroup(topic, group);
    const messages: Envelope[] = Array.from({ length: total }, (_, index) =>
      createEnvelope({ topic, type: 'order.placed', payload: { index, filler: 'x'.repeat(64) } }),
    );
    for (let start = 0; start < total; start += 1_000)
      await transport.publish(topic, messages.slice(start, start + 1_000));
    await transport.publish(topic, messages.slice(0, republished));

    const began = Date.now();
    const args = [url, table, inboxTable, effectsTable, topic, group, applicationName];
    const first = startConsumer(args);
    children.push(first);
    await first.ready;
    // Kill it mid-run, with handlers, inbox leases and acks in flight.
    const killAt = 1_500 + Math.floor(Math.random() * 3_000);
    // On a busy machine the run is slow, not stuck: each phase gives up only after 15 s without
    // a new effect (a fixed 40 s for the whole run left the second consumer ~17 s at load 20).
    let seen = -1;
    let progressedAt = Date.now();
    const stalled = (effects: number) => {
      if (effects !== seen) {
        seen = effects;
        progressedAt = Date.now();
      }
      return Date.now() - progressedAt > 15_000;
    };
    for (;;) {
      const effects = await count(`SELECT count(*) AS n FROM "${effectsTable}"`);
      if (effects >= killAt) break;
      if (stalled(effects)) throw new Error('the first consumer made no progress');
      await sleep(20);
    }
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now() - began;
    const handledAtKill = await count(`SELECT count(*) AS n FROM "${effectsTable}"`);
    expect(handledAtKill).toBeLessThan(total);

    const second = startConsumer(args);
    children.push(second);
    await second.ready;
    for (;;) {
      const effects = await count(`SELECT count(*) AS n FROM "${effectsTable}"`);
      if (effects >= total && (await count(`SELECT count(*) AS n FROM "${table}"`)) === 0) break;
      if (stalled(effects)) break;
      await sleep(50);
    }
    await sleep(300);
    const stats = second.stats;
    second.child.kill('SIGTERM');
    await second.exited;

    const effects = await count(`SELECT count(*) AS n FROM "${effectsTable}"`);
    const runs = await count(`SELECT coalesce(sum(runs), 0) AS n FROM "${effectsTable}"`);
    const left = await count(`SELECT count(*) AS n FROM "${table}"`);
    console.log(
      `[consumer.fault] killed after ${handledAtKill} effects; effects=${effects} runs=${runs} rows left=${left}; ` +
        `second process: consumer-inbox skips=${stats?.duplicates}, transactional-inbox skips=${stats?.transactionalDuplicates}; ` +
        `kill at ${killedAt} ms, done at ${Date.now() - began} ms`,
    );
    // None lost: every message has its effect, and every delivery row was acked.
    expect(effects).toBe(total);
    expect(left).toBe(0);
    // No duplicate effect: a second run of any message would have bumped its `runs`.
    expect(runs).toBe(total);
    // The inboxes did skip copies: the 500 republished ones and the redelivered, already-handled ones.
    expect((stats?.duplicates ?? 0) + (stats?.transactionalDuplicates ?? 0)).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
