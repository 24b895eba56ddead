// Two processes linked through a transport: the consumer's process span continues the trace the
// producer process started, as a child of its send span.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consume } from '@bulwark/messaging';
import { postgresTransport } from '@bulwark/messaging/postgres';
import { describeWithServers, startTypeScriptChild, uniqueName } from '@bulwark/test-support';
import { installTestTelemetry, type PrintedSpan, parentSpanId, printedSpan } from '@bulwark/test-support/otel';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const producerScript = join(here, 'fixtures/traced-producer-child.ts');
const telemetry = installTestTelemetry();

/** Runs the producer child to its end; resolves the spans it printed. */
async function runProducer(args: readonly string[]): Promise<PrintedSpan[]> {
  const spans: PrintedSpan[] = [];
  const producer = startTypeScriptChild(producerScript, {
    args,
    stderrLabel: 'producer',
    onLine: (line) => {
      const span = printedSpan(line);
      if (span) spans.push(span);
    },
  });
  const code = await producer.exited;
  if (code !== 0) throw new Error(`producer exited with ${code}`);
  return spans;
}

await describeWithServers(
  'a trace across two processes through postgresTransport',
  ['postgres'],
  ({ postgres: url }) => {
    let pool: pg.Pool;
    const table = uniqueName('otel_processes');
    beforeAll(async () => {
      pool = new pg.Pool({ connectionString: url, max: 4 });
      await postgresTransport(pool, { table, listen: false }).migrate();
    });
    afterAll(async () => {
      await pool.query(`DROP TABLE IF EXISTS ${table}, ${table}_groups`).catch(() => {});
      await pool.end();
    });

    it("the consumer's process span is a child of the producer process's send span, in its trace", async () => {
      const transport = postgresTransport(pool, { table, pollIntervalMs: 50 });
      const topic = 'orders';
      let handled = 0;
      const consumer = await consume(transport, {
        topic,
        group: 'billing',
        handler: async () => {
          handled += 1;
        },
      });
      try {
        const produced = await runProducer([url, table, topic]);
        for (let tries = 0; tries < 1_000 && telemetry.spansNamed(`process ${topic}`).length === 0; tries++)
          await new Promise((resolve) => setTimeout(resolve, 10));
        const checkout = produced.find((span) => span.name === 'checkout');
        const send = produced.find((span) => span.name === `send ${topic}`);
        const [process] = telemetry.spansNamed(`process ${topic}`);
        expect(handled).toBe(1);
        expect(send?.parentSpanId).toBe(checkout?.spanId);
        expect(process?.spanContext().traceId).toBe(checkout?.traceId);
        expect(parentSpanId(process!)).toBe(send?.spanId);
      } finally {
        await consumer.close();
        await transport.close();
      }
    });
  },
);
