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

/** A span as a child process prints it (see `printSpans`), for a test in another process to read. */
export interface PrintedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, unknown>;
}

const printedPrefix = 'otel-span ';

/** Prints every ended span to stdout as one line, synchronously, so a SIGKILL loses none printed. */
class PrintingProcessor extends SimpleSpanProcessor {
  override onEnd(span: ReadableSpan): void {
    const printed: PrintedSpan = {
      name: span.name,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: parentSpanId(span),
      attributes: { ...span.attributes },
    };
    process.stdout.write(`${printedPrefix}${JSON.stringify(printed)}\n`);
  }
}

/** The span a line printed by a child with `printSpans` carries, or undefined for any other line. */
export function printedSpan(line: string): PrintedSpan | undefined {
  return line.startsWith(printedPrefix) ? (JSON.parse(line.slice(printedPrefix.length)) as PrintedSpan) : undefined;
}

/**
 * Registers the test SDK globally (once per process) and returns its recordings. With
 * `printSpans`, every ended span is also printed to stdout (see {@link printedSpan}).
 */
export function installTestTelemetry(options: { printSpans?: boolean } = {}): TestTelemetry {
  if (installed) return installed;
  const exporter = new InMemorySpanExporter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const spanProcessors = [new SimpleSpanProcessor(exporter)];
  if (options.printSpans) spanProcessors.push(new PrintingProcessor(exporter));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors }));
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
