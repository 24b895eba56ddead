import {
  claimCheck,
  consume,
  createEnvelope,
  deadLetterQueue,
  type Envelope,
  memoryBlobStore,
  memoryDeadLetterStore,
  memoryIdempotencyStore,
  memoryTransport,
  NonRetryableError,
} from '@bulwark/messaging';
import { installTestTelemetry, parentSpanId } from '@bulwark/test-support/otel';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, expect, it } from 'vitest';

const telemetry = installTestTelemetry();
const tracer = trace.getTracer('test');

beforeEach(() => telemetry.reset());
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.reverse()) await close();
  cleanup = [];
});

const until = async (check: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !check()) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
};

it('a message published inside a span is sent and processed in that trace: send is its child, process the child of send', async () => {
  const transport = memoryTransport();
  cleanup.push(() => transport.close());
  const seen: { traceId: string | undefined; spanId: string | undefined }[] = [];
  const consumer = await consume(transport, {
    topic: 'orders',
    group: 'billing',
    handler: async () => {
      const active = trace.getActiveSpan()?.spanContext();
      seen.push({ traceId: active?.traceId, spanId: active?.spanId });
    },
  });
  cleanup.push(() => consumer.close());
  const message = createEnvelope({ topic: 'orders', type: 'order.placed', payload: { total: 3 } });
  await tracer.startActiveSpan('checkout', async (span) => {
    await transport.publish('orders', [message]);
    span.end();
  });
  await until(() => telemetry.spansNamed('process orders').length === 1);

  const [checkout] = telemetry.spansNamed('checkout');
  const [send] = telemetry.spansNamed('send orders');
  const [process] = telemetry.spansNamed('process orders');
  expect(send?.kind).toBe(SpanKind.PRODUCER);
  expect(parentSpanId(send!)).toBe(checkout?.spanContext().spanId);
  expect(send?.attributes).toMatchObject({
    'messaging.system': 'memory',
    'messaging.operation.type': 'send',
    'messaging.destination.name': 'orders',
    'messaging.message.id': message.id,
  });
  expect(process?.kind).toBe(SpanKind.CONSUMER);
  expect(process?.spanContext().traceId).toBe(checkout?.spanContext().traceId);
  expect(parentSpanId(process!)).toBe(send?.spanContext().spanId);
  expect(process?.attributes).toMatchObject({
    'messaging.operation.type': 'process',
    'messaging.destination.name': 'orders',
    'messaging.consumer.group.name': 'billing',
    'messaging.message.id': message.id,
    'bulwark.messaging.outcome': 'handled',
  });
  // The handler runs with the process span active, so its own spans nest under it.
  expect(seen).toEqual([{ traceId: process?.spanContext().traceId, spanId: process?.spanContext().spanId }]);
  expect(await telemetry.points('messaging.process.duration')).not.toHaveLength(0);
  expect(await telemetry.points('messaging.client.operation.duration')).not.toHaveLength(0);
});

it('retries are events of the one process span, and the dead letter is processed in the same trace', async () => {
  const transport = memoryTransport();
  cleanup.push(() => transport.close());
  const consumer = await consume(transport, {
    topic: 'payments',
    group: 'charger',
    retry: [1, 1],
    deadLetter: 'payments.dead-letter',
    handler: async () => {
      throw new Error('card declined');
    },
  });
  const deadLetters = await consume(transport, {
    topic: 'payments.dead-letter',
    group: 'ops',
    handler: async () => {},
  });
  cleanup.push(
    () => consumer.close(),
    () => deadLetters.close(),
  );
  await tracer.startActiveSpan('pay', async (span) => {
    await transport.publish('payments', [createEnvelope({ topic: 'payments', type: 'charge', payload: {} })]);
    span.end();
  });
  await until(() => telemetry.spansNamed('process payments.dead-letter').length === 1);

  const [pay] = telemetry.spansNamed('pay');
  const [failed] = telemetry.spansNamed('process payments');
  expect(failed?.events.filter((event) => event.name === 'retry')).toHaveLength(2);
  expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
  expect(failed?.attributes['bulwark.messaging.outcome']).toBe('dead-lettered');
  const [deadLetterSend] = telemetry.spansNamed('send payments.dead-letter');
  expect(parentSpanId(deadLetterSend!)).toBe(failed?.spanContext().spanId);
  const [deadLetterProcess] = telemetry.spansNamed('process payments.dead-letter');
  for (const span of [failed, deadLetterSend, deadLetterProcess])
    expect(span?.spanContext().traceId).toBe(pay?.spanContext().traceId);
  const deadLettered = await telemetry.points('bulwark.messaging.dead_letters');
  expect(deadLettered.map((point) => point.value)).toContain(1);
});

it('the inbox check is a child of the process span and says when it recognised a duplicate', async () => {
  const transport = memoryTransport();
  cleanup.push(() => transport.close());
  const consumer = await consume(transport, {
    topic: 'emails',
    group: 'mailer',
    dedupe: { store: memoryIdempotencyStore(), windowMs: 60_000 },
    handler: async () => {},
  });
  cleanup.push(() => consumer.close());
  const message = createEnvelope({ topic: 'emails', type: 'welcome', payload: {} });
  await transport.publish('emails', [message]);
  await until(() => consumer.snapshot().handled === 1);
  await transport.publish('emails', [message]);
  await until(() => consumer.snapshot().duplicates === 1);
  await until(() => telemetry.spansNamed('process emails').length === 2);

  const inbox = telemetry.spansNamed('inbox mailer');
  const processes = telemetry.spansNamed('process emails');
  expect(inbox.map((span) => span.attributes['bulwark.inbox.result'])).toEqual(['new', 'duplicate']);
  expect(inbox.map(parentSpanId)).toEqual(processes.map((span) => span.spanContext().spanId));
  expect(processes.map((span) => span.attributes['bulwark.messaging.outcome'])).toEqual(['handled', 'duplicate']);
});

it('a claim check-in and check-out appear as spans with the size of the claimed payload', async () => {
  const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 16 });
  const message = createEnvelope({ topic: 'documents', type: 'invoice', payload: { text: 'x'.repeat(100) } });
  let claimed: Envelope | undefined;
  await tracer.startActiveSpan('render', async (span) => {
    claimed = await checks.checkIn(message);
    await checks.checkOut(claimed);
    await checks.checkIn(createEnvelope({ topic: 'documents', type: 'note', payload: 'small' }));
    span.end();
  });
  const [render] = telemetry.spansNamed('render');
  const checkIns = telemetry.spansNamed('claim-check check-in');
  const [checkOut] = telemetry.spansNamed('claim-check check-out');
  expect(checkIns.map((span) => span.attributes['bulwark.claim_check.claimed'])).toEqual([true, false]);
  expect(checkIns[0]?.attributes['bulwark.claim_check.bytes']).toBeGreaterThan(100);
  expect(checkOut?.attributes['bulwark.claim_check.claimed']).toBe(true);
  for (const span of [...checkIns, checkOut]) expect(parentSpanId(span!)).toBe(render?.spanContext().spanId);
});

it('a non-retryable failure without a dead-letter topic marks the process span failed', async () => {
  const transport = memoryTransport();
  cleanup.push(() => transport.close());
  const consumer = await consume(transport, {
    topic: 'audit',
    group: 'auditor',
    retry: false,
    handler: async () => {
      throw new NonRetryableError('malformed');
    },
  });
  cleanup.push(() => consumer.close({ deadlineMs: 0 }));
  await transport.publish('audit', [createEnvelope({ topic: 'audit', type: 'entry', payload: {} })]);
  await until(() => telemetry.spansNamed('process audit').length >= 1);
  const [process] = telemetry.spansNamed('process audit');
  expect(process?.attributes['bulwark.messaging.outcome']).toBe('failed');
  expect(process?.status.code).toBe(SpanStatusCode.ERROR);
  expect(process?.attributes['error.type']).toBeDefined();
});

it('a replayed dead letter is processed again in the trace of the message it came from', async () => {
  const transport = memoryTransport();
  cleanup.push(() => transport.close());
  let failing = true;
  const consumer = await consume(transport, {
    topic: 'invoices',
    group: 'mailer',
    retry: false,
    deadLetter: 'invoices.dead-letter',
    handler: async () => {
      if (failing) throw new Error('smtp down');
    },
  });
  const store = memoryDeadLetterStore();
  const queue = await deadLetterQueue(transport, { store, topic: 'invoices.dead-letter' });
  cleanup.push(
    () => consumer.close(),
    () => queue.close(),
  );
  await tracer.startActiveSpan('send invoice', async (span) => {
    await transport.publish('invoices', [createEnvelope({ topic: 'invoices', type: 'invoice', payload: {} })]);
    span.end();
  });
  await until(() => consumer.snapshot().deadLettered === 1);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await queue.list()).length === 0)
    await new Promise((resolve) => setTimeout(resolve, 5));
  failing = false;
  expect(await queue.replay()).toBe(1);
  await until(() => consumer.snapshot().handled === 1);
  await until(() => telemetry.spansNamed('process invoices').length === 2);

  const [origin] = telemetry.spansNamed('send invoice');
  const processes = telemetry.spansNamed('process invoices');
  expect(processes.map((span) => span.attributes['bulwark.messaging.outcome'])).toEqual(['dead-lettered', 'handled']);
  for (const span of [...processes, ...telemetry.spansNamed('send invoices')])
    expect(span.spanContext().traceId).toBe(origin?.spanContext().traceId);
});
