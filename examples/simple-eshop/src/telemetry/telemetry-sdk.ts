// The OpenTelemetry SDK of a shop process: a tracer provider and a meter provider registered as the
// global ones, so the Bulwark packages (which only use `@opentelemetry/api`) report through them.
//
// Traces go to the shop's span store (PostgreSQL, read by the ops view) and, when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, to that collector over OTLP/HTTP as well. Metrics have
// three readers on the same instruments: the Prometheus serializer behind /metrics, the route
// samples behind the ops view's charts, and OTLP/HTTP when the endpoint is set.
//
// The SDK is global state: a process starts it once (the first shop to start does), and every shop
// in the process (tests start several) attaches its own sinks to it.
import { metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { type RouteSampleSink, routeSampleExporter } from './route-samples.js';
import { type SpanSink, spanStoreExporter } from './span-store.js';

export interface ShopTelemetry {
  /** The current values of every instrument, as Prometheus text (exposition format 0.0.4). */
  prometheusText(): Promise<string>;
  /** Sends this process's finished spans to `sink` until the returned function is called. */
  addSpanSink(sink: SpanSink): () => Promise<void>;
  /** Sends the per-route request samples to `sink` until the returned function is called. */
  addRouteSampleSink(sink: RouteSampleSink): () => Promise<void>;
}

export interface TelemetryOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* variables the OTLP exporters read. */
  env: NodeJS.ProcessEnv;
  /** How often the route samples are taken. @defaultValue 5000 */
  routeSampleEveryMs?: number;
}

let started: ShopTelemetry | undefined;

/** Starts the SDK on the first call; later calls return the running one. */
export function startTelemetry(options: TelemetryOptions): ShopTelemetry {
  if (started) return started;
  const { env } = options;
  const resource = resourceFromAttributes({
    'service.name': env.OTEL_SERVICE_NAME ?? 'simple-eshop',
    'service.instance.id': `${process.pid}`,
  });
  const otlp = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);

  const spanSinks = new Set<SpanSink>();
  const spanProcessors: SpanProcessor[] = [
    // A short delay, so an order's spans reach the ops view within a second.
    new BatchSpanProcessor(spanStoreExporter(spanSinks), { scheduledDelayMillis: 500, maxQueueSize: 4_096 }),
  ];
  // The exporter reads the endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables.
  if (otlp) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors });
  // Also the AsyncLocalStorage context manager and the W3C trace-context and baggage propagators.
  tracerProvider.register();

  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const serializer = new PrometheusSerializer();
  const routeSinks = new Set<RouteSampleSink>();
  const readers: MetricReader[] = [
    prometheus,
    new PeriodicExportingMetricReader({
      exporter: routeSampleExporter(routeSinks),
      exportIntervalMillis: options.routeSampleEveryMs ?? 5_000,
    }),
  ];
  if (otlp || env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() }));
  const meterProvider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);

  started = {
    async prometheusText() {
      const { resourceMetrics, errors } = await prometheus.collect();
      for (const error of errors) console.warn('simple-eshop: a metric callback failed', error);
      return serializer.serialize(resourceMetrics);
    },
    addSpanSink(sink) {
      spanSinks.add(sink);
      return async () => {
        await tracerProvider.forceFlush().catch(() => {});
        spanSinks.delete(sink);
      };
    },
    addRouteSampleSink(sink) {
      routeSinks.add(sink);
      return async () => {
        routeSinks.delete(sink);
      };
    },
  };
  return started;
}
