import { InvalidOptionsError } from '@bulwark/resilience';
import { postgresSagaLog, postgresSagaLogSql } from '@bulwark/saga/postgres';
import { sagaLogConformance } from '@bulwark/saga/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';

import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

await describeWithServers('postgresSagaLog', ['postgres'], ({ postgres }) => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: postgres, max: 8 });
  });
  afterAll(async () => {
    await pool.end();
  });
  const tables = new Map<object, string>();

  sagaLogConformance('postgresSagaLog', {
    async createLog() {
      const table = uniqueName('saga_log');
      const log = postgresSagaLog(pool, { table });
      await log.migrate();
      tables.set(log, table);
      return log;
    },
    async disposeLog(log) {
      const table = tables.get(log);
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_entries"`);
    },
  });

  it('migrate is idempotent and safe to run concurrently', async () => {
    const table = uniqueName('saga_migrate');
    const log = postgresSagaLog(pool, { table });
    await Promise.all([log.migrate(), log.migrate(), log.migrate()]);
    await log.migrate();
    await log.create({ id: 'x', name: 'n', input: null, owner: 'A', leaseUntil: 1, at: 1 }, []);
    expect((await log.get('x'))?.input).toBeNull();
    await pool.query(`DROP TABLE "${table}", "${table}_entries"`);
  });

  it('exports its SQL rendered for a schema-qualified table, and refuses unsafe names', () => {
    const sql = postgresSagaLogSql({ table: 'app.sagas' });
    expect(sql.migrate).toContain('CREATE TABLE IF NOT EXISTS "app"."sagas" (');
    expect(sql.migrate).toContain('"app"."sagas_entries"');
    expect(sql.append).toContain('UPDATE "app"."sagas" SET');
    expect(() => postgresSagaLogSql({ table: 'sagas; DROP TABLE x' })).toThrow(InvalidOptionsError);
  });
});
