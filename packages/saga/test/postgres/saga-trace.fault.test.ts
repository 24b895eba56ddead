// A saga run whose orchestrator is SIGKILLed mid-step and resumed by another process still forms
// one trace: the resuming process reads the run's trace context from the log.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresSagaLog } from '@bulwark/saga/postgres';
import { describeWithServers, startTypeScriptChild, uniqueName } from '@bulwark/test-support';
import { type PrintedSpan, printedSpan } from '@bulwark/test-support/otel';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

await describeWithServers('saga trace across a SIGKILL on PostgreSQL', ['postgres'], ({ postgres }) => {
  const sagaTable = uniqueName('saga_trace');
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 2 });
    await postgresSagaLog(pool, { table: sagaTable }).migrate();
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${sagaTable}", "${sagaTable}_entries"`);
    await pool.end();
  });

  const startChild = (mode: 'start' | 'recover', sagaId: string) => {
    const spans: PrintedSpan[] = [];
    const lines: string[] = [];
    const started = startTypeScriptChild(join(here, 'saga-trace-child.ts'), {
      env: { DATABASE_URL: postgres, SAGA_TABLE: sagaTable, SAGA_ID: sagaId, MODE: mode },
      onLine: (line) => {
        const span = printedSpan(line);
        if (span) spans.push(span);
        else lines.push(line);
      },
    });
    const printed = async (line: string) => {
      for (let tries = 0; tries < 3_000 && !lines.includes(line); tries++) {
        if (started.child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (!lines.includes(line)) throw new Error(`child (${mode}) did not print "${line}": ${started.errors()}`);
    };
    return { ...started, spans, printed };
  };

  it('the resumed run, its steps and the killed run share the trace of the request that started it', async () => {
    const sagaId = uniqueName('transfer');
    const first = startChild('start', sagaId);
    try {
      await first.printed('stalled');
    } finally {
      first.child.kill('SIGKILL');
    }
    await first.exited;
    const second = startChild('recover', sagaId);
    await second.printed('outcome completed');
    expect(await second.exited).toBe(0);
    expect(second.errors()).toBe('');

    const named = (spans: PrintedSpan[], name: string) => spans.filter((span) => span.name === name);
    const [request] = named(first.spans, 'POST /transfers');
    const [root] = named(first.spans, 'saga transfer');
    const [debit] = named(first.spans, 'step debit');
    // The killed process never ended its run span nor the stalled step.
    expect(named(first.spans, 'run transfer')).toEqual([]);
    expect(named(first.spans, 'step credit')).toEqual([]);
    const [resumed] = named(second.spans, 'run transfer');
    const [credit] = named(second.spans, 'step credit');
    const [notify] = named(second.spans, 'step notify');
    expect(root?.parentSpanId).toBe(request?.spanId);
    expect(resumed?.parentSpanId).toBe(root?.spanId);
    expect(resumed?.attributes['bulwark.saga.outcome']).toBe('completed');
    for (const span of [root, debit, resumed, credit, notify]) expect(span?.traceId).toBe(request?.traceId);
    expect(credit?.parentSpanId).toBe(resumed?.spanId);
    expect(notify?.parentSpanId).toBe(resumed?.spanId);
  }, 60_000);
});
