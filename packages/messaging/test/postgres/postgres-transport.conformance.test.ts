import { postgresTransport } from '@bulwark/messaging/postgres';
import { transportConformance } from '@bulwark/messaging/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

await describeWithServers('postgresTransport', ['postgres'], ({ postgres }) => {
  // One application_name per test file: the restart hook terminates only these backends.
  const applicationName = uniqueName('bulwark_transport_conf');
  const table = uniqueName('conf_messages');
  const pools = new Map<object, pg.Pool>();
  let admin: pg.Pool;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: postgres, max: 2 });
    admin.on('error', () => {});
    const setup = new pg.Pool({ connectionString: postgres, max: 1 });
    await postgresTransport(setup, { table }).migrate();
    await setup.end();
  });

  afterAll(async () => {
    await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups"`);
    await admin.end();
  });

  transportConformance('postgresTransport', {
    createTransport: ({ visibilityTimeoutMs }) => {
      const pool = new pg.Pool({ connectionString: postgres, max: 8, application_name: applicationName });
      // Terminated idle clients emit 'error' on the pool; without a listener the process would crash.
      pool.on('error', () => {});
      const transport = postgresTransport(pool, { table, visibilityTimeoutMs, pollIntervalMs: 250 });
      pools.set(transport, pool);
      return transport;
    },
    dispose: async (transport) => {
      await pools.get(transport)?.end();
      pools.delete(transport);
    },
    // Never restart the shared server: cut every connection this transport holds instead.
    restartServer: async () => {
      const result = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [applicationName],
      );
      // The LISTEN connection at least must have been cut, or the test proves nothing.
      if (result.rowCount === 0) throw new Error('no backend of the transport to terminate');
    },
    timeoutMs: 10_000,
  });
});
