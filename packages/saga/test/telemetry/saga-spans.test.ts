import { createEnvelope, memoryTransport } from '@bulwark/messaging';
import { retry } from '@bulwark/resilience';
import { defineSaga, memorySagaLog, sagaOrchestrator } from '@bulwark/saga';
import { installTestTelemetry, parentSpanId } from '@bulwark/test-support/otel';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { beforeEach, expect, it } from 'vitest';

const telemetry = installTestTelemetry();
const tracer = trace.getTracer('test');
beforeEach(() => telemetry.reset());

it('a run is one trace: saga root under the caller, a run span, a span per step and per compensation', async () => {
  let chargeCalls = 0;
  const saga = defineSaga<{ orderId: string }>('place-order')
    .step('reserve', { execute: async () => ({ reserved: true }), compensate: async () => {} })
    .step('charge', {
      execute: async () => {
        chargeCalls += 1;
        throw new Error('card declined');
      },
      retry: retry({ maxAttempts: 2 }),
    })
    .step('ship', { execute: async () => null });
  const log = memorySagaLog();
  const sagas = sagaOrchestrator({ log, sagas: [saga], recoverEveryMs: false });
  try {
    await tracer.startActiveSpan('POST /orders', async (span) => {
      await sagas.start(saga, { orderId: 'o-1' }, { id: 'o-1' });
      span.end();
    });
    const outcome = await sagas.wait('o-1');
    expect(outcome.status).toBe('compensated');
    expect(chargeCalls).toBe(2);

    const [request] = telemetry.spansNamed('POST /orders');
    const [root] = telemetry.spansNamed('saga place-order');
    const [run] = telemetry.spansNamed('run place-order');
    const [reserve] = telemetry.spansNamed('step reserve');
    const [charge] = telemetry.spansNamed('step charge');
    const [compensate] = telemetry.spansNamed('compensate reserve');
    expect(telemetry.spansNamed('step ship')).toEqual([]);
    for (const span of [root, run, reserve, charge, compensate])
      expect(span?.spanContext().traceId).toBe(request?.spanContext().traceId);
    expect(parentSpanId(root!)).toBe(request?.spanContext().spanId);
    expect(parentSpanId(run!)).toBe(root?.spanContext().spanId);
    for (const span of [reserve, charge, compensate]) expect(parentSpanId(span!)).toBe(run?.spanContext().spanId);
    expect(charge?.status.code).toBe(SpanStatusCode.ERROR);
    expect(charge?.attributes['bulwark.saga.step.outcome']).toBe('failed');
    expect(compensate?.attributes['bulwark.saga.step.outcome']).toBe('compensated');
    expect(run?.attributes['bulwark.saga.outcome']).toBe('compensated');
    // The run's trace context is in the log, for whichever process resumes it.
    const [started] = await log.history('o-1');
    expect(started?.kind).toBe('saga-started');
    expect(JSON.stringify(started?.data)).toContain(root?.spanContext().spanId);
    const durations = await telemetry.points('bulwark.saga.duration');
    expect(durations.some((point) => point.attributes['bulwark.saga.outcome'] === 'compensated')).toBe(true);
  } finally {
    await sagas.close();
  }
});

it('a run resumed from the log by another orchestrator continues the trace the run started', async () => {
  const log = memorySagaLog();
  let firstOrchestrator = true;
  const saga = defineSaga<null>('transfer')
    .step('debit', { execute: async () => null })
    .step('credit', {
      execute: async ({ signal }) => {
        if (firstOrchestrator) {
          // The first orchestrator stalls here until it is closed, as a crashed one would.
          await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        }
        return null;
      },
    });
  const first = sagaOrchestrator({ log, sagas: [saga], recoverEveryMs: false, owner: 'first' });
  await first.start(saga, null, { id: 't-1' });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && telemetry.spansNamed('step debit').length === 0)
    await new Promise((resolve) => setTimeout(resolve, 5));
  await first.close();
  firstOrchestrator = false;
  const second = sagaOrchestrator({ log, sagas: [saga], recoverEveryMs: false, owner: 'second' });
  try {
    expect(await second.recover()).toBe(1);
    expect((await second.wait('t-1')).status).toBe('completed');
  } finally {
    await second.close();
  }
  const [root] = telemetry.spansNamed('saga transfer');
  const runs = telemetry.spansNamed('run transfer');
  expect(runs).toHaveLength(2);
  for (const run of runs) {
    expect(run.spanContext().traceId).toBe(root?.spanContext().traceId);
    expect(parentSpanId(run)).toBe(root?.spanContext().spanId);
  }
  const credits = telemetry.spansNamed('step credit');
  expect(credits.map((span) => span.attributes['bulwark.saga.step.outcome'])).toContain('ok');
  expect(credits.every((span) => span.spanContext().traceId === root?.spanContext().traceId)).toBe(true);
});

it("a request step's wait for its reply is visible: the step parks with a reply-awaited event, the reply resumes the run in its trace", async () => {
  const transport = memoryTransport();
  const replies = await transport.subscribe('payments.commands', 'payments', async ({ message }) => {
    await transport.publish('payments.replies', [
      createEnvelope({
        topic: 'payments.replies',
        type: 'payment.charged',
        payload: { paymentId: 'p-1' },
        causedBy: message,
      }),
    ]);
  });
  const saga = defineSaga<null>('pay')
    .request('charge', {
      send: () => ({ topic: 'payments.commands', type: 'payment.charge', payload: { amount: 5 } }),
      replyTopic: 'payments.replies',
      timeoutMs: 60_000,
    })
    .step('confirm', { execute: async () => null });
  const sagas = sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], transport, recoverEveryMs: false });
  try {
    await sagas.start(saga, null, { id: 'p-1' });
    expect((await sagas.wait('p-1')).status).toBe('completed');
  } finally {
    await sagas.close();
    await replies.close();
    await transport.close();
  }
  const [root] = telemetry.spansNamed('saga pay');
  const charges = telemetry.spansNamed('step charge');
  expect(charges.map((span) => span.attributes['bulwark.saga.step.outcome'])).toEqual(['parked', 'ok']);
  expect(charges[0]?.events.map((event) => event.name)).toContain('reply-awaited');
  // The command went out inside the step: its send span is a child of the parked step span.
  const [command] = telemetry.spansNamed('send payments.commands');
  expect(parentSpanId(command!)).toBe(charges[0]?.spanContext().spanId);
  const runs = telemetry.spansNamed('run pay');
  expect(runs.map((run) => run.attributes['bulwark.saga.outcome'])).toEqual(['suspended', 'completed']);
  for (const span of [...charges, ...runs, command])
    expect(span?.spanContext().traceId).toBe(root?.spanContext().traceId);
});
