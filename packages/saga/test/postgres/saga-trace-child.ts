// An orchestrator process for saga-trace.fault.test.ts that prints its spans. `start` mode starts
// one run inside a `POST /transfers` span and stalls in its second step (to be SIGKILLed there);
// `recover` mode resumes what the killed process left and drives it to the end.
// Environment: DATABASE_URL, SAGA_TABLE, SAGA_ID, MODE.

import { defineSaga, sagaOrchestrator } from '@bulwark/saga';
import { postgresSagaLog } from '@bulwark/saga/postgres';
import { installTestTelemetry } from '@bulwark/test-support/otel';
import { trace } from '@opentelemetry/api';
import pg from 'pg';

installTestTelemetry({ printSpans: true });
const { DATABASE_URL, SAGA_TABLE, SAGA_ID = '', MODE } = process.env;
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
const saga = defineSaga<null>('transfer')
  .step('debit', { execute: async () => ({ debited: true }) })
  .step('credit', {
    execute: async () => {
      if (MODE === 'start') {
        process.stdout.write('stalled\n');
        await new Promise(() => {});
      }
      return { credited: true };
    },
  })
  .step('notify', { execute: async () => null });
const orchestrator = sagaOrchestrator({
  log: postgresSagaLog(pool, { table: SAGA_TABLE }),
  sagas: [saga],
  leaseMs: 1_000,
  heartbeatMs: 300,
  recoverEveryMs: MODE === 'start' ? false : 200,
});
if (MODE === 'start') {
  await trace.getTracer('child').startActiveSpan('POST /transfers', async (span) => {
    await orchestrator.start(saga, null, { id: SAGA_ID });
    span.end();
  });
} else {
  await orchestrator.recover();
  const outcome = await orchestrator.wait(SAGA_ID, { pollMs: 100 });
  process.stdout.write(`outcome ${outcome.status}\n`);
  await orchestrator.close();
  await pool.end();
}
