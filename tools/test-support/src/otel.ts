// An OpenTelemetry SDK for tests: spans kept in memory, metrics collected on demand, W3C trace
// context and baggage as the propagator, AsyncLocalStorage as the context manager. Registered once
// per process (the API refuses a second registration); `reset()` clears what was recorded.
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A metric reader that collects only when asked. */
class OnDemandReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TestTelemetry {
  /** Every span ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** Spans ended so far with this name. */
  spansNamed(name: string): ReadableSpan[];
  /** The data points of one metric collected now (empty when it was never recorded). */
  points(metric: string): Promise<DataPoint<unknown>[]>;
  /** Forgets the spans recorded so far. */
  reset(): void;
}

let installed: TestTelemetry | undefined;

/** Registers the test SDK globally (once per process) and returns its recordings. */
export function installTestTelemetry(): TestTelemetry {
  if (installed) return installed;
  const exporter = new InMemorySpanExporter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  const reader = new OnDemandReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  const telemetry: TestTelemetry = {
    spans: () => exporter.getFinishedSpans(),
    spansNamed: (name) => exporter.getFinishedSpans().filter((span) => span.name === name),
    async points(metric) {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics
        .flatMap((scope) => scope.metrics)
        .filter((entry) => entry.descriptor.name === metric)
        .flatMap((entry) => entry.dataPoints as DataPoint<unknown>[]);
    },
    reset: () => exporter.reset(),
  };
  installed = telemetry;
  return telemetry;
}

/** The parent span id of a span, whatever the SDK version calls it. */
export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
