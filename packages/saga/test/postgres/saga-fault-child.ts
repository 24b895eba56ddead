// A saga orchestrator process for saga.fault.test.ts: starts (idempotently) every saga of the
// run, recovers what earlier processes left, and drives them until killed. Effects go to tables
// keyed by idempotency key (a unique constraint) with a counter of executions.

import { defineSaga, sagaOrchestrator } from '@bulwark/saga';
import { postgresSagaLog } from '@bulwark/saga/postgres';
import pg from 'pg';
import { faultPlan, faultSteps } from './saga-fault-plan.js';

const { DATABASE_URL, SAGA_TABLE, EFFECTS_TABLE, SAGA_COUNT, OWNER } = process.env as Record<string, string>;
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 8 });
const log = postgresSagaLog(pool, { table: SAGA_TABLE });
const effects = `"${EFFECTS_TABLE}"`;

const record = (key: string, kind: 'do' | 'undo') =>
  pool.query(
    `INSERT INTO ${effects} (key, kind, executions) VALUES ($1, $2, 1)
     ON CONFLICT (key, kind) DO UPDATE SET executions = ${effects}.executions + 1`,
    [key, kind],
  );

const step = (index: number) => ({
  async execute({ sagaId, idempotencyKey }: { sagaId: string; idempotencyKey: string }) {
    if (faultPlan(sagaId).failAt === index) throw new Error(`${faultSteps[index]} failed`);
    await record(idempotencyKey, 'do');
    return { done: idempotencyKey };
  },
  async compensate({ sagaId, idempotencyKey }: { sagaId: string; idempotencyKey: string }) {
    if (index === 0 && faultPlan(sagaId).stuckFirstCompensation) throw new Error('cannot undo');
    await record(idempotencyKey, 'undo');
  },
});

const saga = defineSaga<{ n: number }>('fault').step('reserve', step(0)).step('charge', step(1)).step('ship', step(2));
const orchestrator = sagaOrchestrator({
  log,
  sagas: [saga],
  owner: OWNER,
  leaseMs: 1_500,
  heartbeatMs: 400,
  recoverEveryMs: 250,
  recoverBatch: 250,
  compensationRetry: { maxAttempts: 2, initialDelayMs: 10 },
});
orchestrator.on('saga-error', (event) => {
  const error = event.error as { code?: string; message?: string };
  if (error?.code !== 'SAGA_LEASE_LOST') process.stderr.write(`saga-error ${event.sagaId}: ${error?.message}\n`);
});

await orchestrator.recover();
process.stdout.write('ready\n');
const count = Number(SAGA_COUNT);
let next = 0;
// Clients (re)submit every saga to each new process: start is idempotent by id.
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < count) {
      const index = next++;
      await orchestrator.start(saga, { n: index }, { id: `f-${index}` });
    }
  }),
);
process.stdout.write('submitted\n');
process.on('SIGTERM', async () => {
  await orchestrator.close();
  await pool.end();
  process.exit(0);
});
