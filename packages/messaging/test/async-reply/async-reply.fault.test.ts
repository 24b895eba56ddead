import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncReply } from '@bulwark/messaging';
import { postgresAsyncReplyStore, postgresTransport } from '@bulwark/messaging/postgres';
import { describeWithServers, startTypeScriptChild, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const workerScript = join(here, 'fixtures/async-reply-worker-child.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startWorker = (args: readonly string[]) => startTypeScriptChild(workerScript, { args, stderrLabel: 'worker' });

/**
 * Polls `done` every 50 ms until it holds or `ms` passed. The bounds are generous: a takeover waits
 * for the lease and a redelivery, and on a loaded machine took longer than the 15 s once allowed.
 */
async function pollUntil(done: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !(await done())) await sleep(50);
}

await describeWithServers('asyncReply workers under SIGKILL', ['postgres'], ({ postgres: url }) => {
  const table = uniqueName('ar_fault_messages');
  const storeTable = uniqueName('ar_fault_ops');
  const applicationName = uniqueName('ar_fault');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {});
    await postgresTransport(pool, { table, listen: false }).migrate();
    await postgresTransport(pool, { table, listen: false }).declareGroup('bulwark.async-reply', 'workers');
    await postgresAsyncReplyStore(pool, { table: storeTable }).migrate();
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups", "${storeTable}"`);
    await pool.end();
  });

  it('a worker killed mid-run loses no operation: another takes each over after the lease, once', {
    timeout: 120_000,
  }, async () => {
    const transport = postgresTransport(pool, { table, listen: false });
    const store = postgresAsyncReplyStore(pool, { table: storeTable });
    const api = asyncReply({ store, transport, leaseMs: 2_000 });
    const doomed = startWorker([url, table, storeTable, 'hang', applicationName]);
    await doomed.ready;

    const total = 20;
    const accepted = await Promise.all(Array.from({ length: total }, (_, n) => api.accept('double', { n })));
    const statuses = () => Promise.all(accepted.map(({ id }) => api.status<{ doubled: number; pid: number }>(id)));
    await pollUntil(async () => (await statuses()).every((state) => state?.status === 'running'), 20_000);
    expect((await statuses()).map((state) => state?.status)).toEqual(Array(total).fill('running'));

    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const rescuer = startWorker([url, table, storeTable, 'work', applicationName]);
    await rescuer.ready;
    await pollUntil(async () => (await statuses()).every((state) => state?.status === 'succeeded'), 60_000);
    const states = await statuses();
    expect(states.map((state) => (state?.status === 'succeeded' ? state.result.doubled : state?.status))).toEqual(
      Array.from({ length: total }, (_, n) => n * 2),
    );
    // Every operation was started by the killed worker, then once more by the rescuer.
    expect(states.map((state) => state?.attempts)).toEqual(Array(total).fill(2));
    expect(new Set(states.map((state) => (state?.status === 'succeeded' ? state.result.pid : 0)))).toEqual(
      new Set([rescuer.child.pid]),
    );
    rescuer.child.kill('SIGTERM');
    await rescuer.exited;
    await transport.close();
  });
});
