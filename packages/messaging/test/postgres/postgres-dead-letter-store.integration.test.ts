import { postgresDeadLetterStore } from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { deadLetterStoreCases } from '../dead-letter/dead-letter-store-cases.js';

await describeWithServers('postgresDeadLetterStore', ['postgres'], ({ postgres }) => {
  let pool: pg.Pool;
  const tables: string[] = [];
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: postgres, max: 2 });
  });
  afterAll(async () => {
    for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });
  deadLetterStoreCases('postgresDeadLetterStore', async () => {
    const table = uniqueName('dead_letters');
    tables.push(table);
    const store = postgresDeadLetterStore(pool, { table });
    await store.migrate();
    return store;
  });
});
