// The docs examples that need PostgreSQL or Redis, on the loopback servers, each under a unique
// table/key prefix that is removed afterwards.
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { documentedOutput, runExample } from './run-example.js';

await describeWithServers('docs examples on servers', ['postgres', 'redis'], ({ postgres, redis }) => {
  const prefix = uniqueName('docs');
  process.env.EXAMPLE_PREFIX = prefix;
  process.env.DATABASE_URL = postgres;
  process.env.REDIS_URL = redis;

  afterAll(async () => {
    const pool = new pg.Pool({ connectionString: postgres });
    await pool.query(`DROP TABLE IF EXISTS ${prefix}_orders, ${prefix}_outbox, ${prefix}_outbox_relay CASCADE`);
    await pool.query(`DROP FUNCTION IF EXISTS ${prefix}_outbox_notify() CASCADE`);
    await pool.query(
      `DROP TABLE IF EXISTS ${prefix}_sales, ${prefix}_events, ${prefix}_events_checkpoints, ${prefix}_order_history, ${prefix}_order_history_rebuild`,
    );
    await pool.end();
    const client = new Redis(redis);
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it.each(['outbox', 'several-machines', 'read-models'])('%s prints what its guide says', async (name) => {
    expect(await runExample(name)).toBe(documentedOutput(name));
  });
});
