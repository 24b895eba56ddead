// Tracing with OpenTelemetry: register an SDK once at start-up, before creating policies,
// transports and consumers, and Bulwark's spans and metrics go to it. Here the spans are kept in
// memory and printed as a tree; an application uses `@opentelemetry/sdk-node` with an OTLP exporter.
import { consume, createEnvelope, memoryTransport } from '@bulwark/messaging';
import { circuitBreaker, consecutive, pipeline, retry } from '@bulwark/resilience';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

let failuresLeft = 1;
const payments = pipeline(
  retry({ maxAttempts: 3 }),
  circuitBreaker({ name: 'payments', strategy: consecutive(5), halfOpenAfter: 10_000 }),
);
const transport = memoryTransport();
const consumer = await consume(transport, {
  topic: 'orders',
  group: 'billing',
  handler: async () => {
    await payments.execute(async () => {
      if (failuresLeft-- > 0) throw new Error('payment provider busy');
    });
  },
});

await trace.getTracer('shop').startActiveSpan('POST /orders', async (span) => {
  await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload: {} })]);
  span.end();
});
while (consumer.snapshot().handled === 0) await new Promise((resolve) => setTimeout(resolve, 5));
await consumer.close();
await transport.close();

const spans = exporter.getFinishedSpans();
const print = (span: ReadableSpan, depth: number) => {
  const events = span.events.map((event) => event.name).join(', ');
  console.log(`${'  '.repeat(depth)}${span.name}${events ? ` [${events}]` : ''}`);
  for (const child of spans.filter((other) => other.parentSpanContext?.spanId === span.spanContext().spanId))
    print(child, depth + 1);
};
for (const root of spans.filter((span) => span.parentSpanContext === undefined)) print(root, 0);
// POST /orders
//   send orders
//     process orders [retry]
