// The transactional inbox's handler appears in the trace like the consumer's inbox check: an
// `inbox <group>` span, child of the process span, the work's own spans inside it, and whether
// the id was new or a duplicate.
import { consume, createEnvelope, memoryTransport } from '@bulwark/messaging';
import { postgresInbox } from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { installTestTelemetry, parentSpanId } from '@bulwark/test-support/otel';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const telemetry = installTestTelemetry();

await describeWithServers('postgresInbox spans', ['postgres'], ({ postgres }) => {
  const table = uniqueName('inbox_spans');
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 4 });
    await postgresInbox(pool, { table }).migrate();
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  it('wraps the work in `inbox <group>`, a child of `process <topic>`, new then duplicate, failures marked', async () => {
    telemetry.reset();
    const inbox = postgresInbox(pool, { table });
    const transport = memoryTransport();
    let fail = false;
    const consumer = await consume(transport, {
      topic: 'invoices',
      group: 'billing',
      handler: inbox.handler('billing', async () => {
        trace.getTracer('test').startSpan('work').end();
        if (fail) throw new Error('work failed');
      }),
    });
    try {
      const message = createEnvelope({ topic: 'invoices', type: 'invoice.due', payload: {} });
      await transport.publish('invoices', [message, message]);
      const until = async (check: () => boolean) => {
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && !check()) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(check()).toBe(true);
      };
      await until(() => telemetry.spansNamed('inbox billing').length === 2);
      const spans = telemetry.spansNamed('inbox billing');
      expect(spans.map((span) => span.attributes['bulwark.inbox.result'])).toEqual(['new', 'duplicate']);
      expect(spans[0]?.attributes).toMatchObject({
        'messaging.consumer.group.name': 'billing',
        'messaging.message.id': message.id,
      });
      const processes = telemetry.spansNamed('process invoices');
      expect(spans.map(parentSpanId)).toEqual(processes.map((span) => span.spanContext().spanId));
      // The work ran once, inside the first inbox span.
      const work = telemetry.spansNamed('work');
      expect(work.map(parentSpanId)).toEqual([spans[0]?.spanContext().spanId]);

      fail = true;
      await transport.publish('invoices', [createEnvelope({ topic: 'invoices', type: 'invoice.due', payload: {} })]);
      await until(() => telemetry.spansNamed('inbox billing').length >= 3);
      expect(telemetry.spansNamed('inbox billing')[2]?.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await consumer.close();
      await transport.close();
    }
  });
});
