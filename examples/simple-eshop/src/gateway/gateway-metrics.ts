// The gateway's metrics, created through @opentelemetry/api as the rest of the shop's are, so a
// process that runs the shop's OpenTelemetry SDK can pass its meter provider and serve them on
// its own /metrics. Without one the gateway keeps a private meter provider read by a Prometheus
// exporter (no server of its own), and its /metrics serves that. Names on /metrics:
//   gateway_upstream_attempts_total{upstream, outcome}  attempts sent to each upstream, by outcome:
//                                                         ok, transient_status (408, 429, 5xx), network_error
//   gateway_upstream_healthy{upstream}                   1 when its last /health/ready check passed
//   gateway_upstream_circuit{upstream, state}            1 for the state its breaker is in, 0 for the others
import type { BatchObservableCallback, MeterProvider } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';

export type AttemptOutcome = 'ok' | 'transient_status' | 'network_error';

/** What the gauges read when the metrics are collected. */
export interface UpstreamStatus {
  readonly upstream: string;
  readonly healthy: boolean;
  readonly circuit: string;
}

export interface GatewayMetrics {
  /** Counts one attempt sent to `upstream`. */
  attempt(upstream: string, outcome: AttemptOutcome): void;
  /** The current values as Prometheus text, or `undefined` when the caller's provider serves them. */
  prometheusText(): Promise<string | undefined>;
  close(): Promise<void>;
}

const circuitStates = ['closed', 'open', 'half-open', 'isolated'] as const;

export function gatewayMetrics(status: () => UpstreamStatus[], provider?: MeterProvider): GatewayMetrics {
  const exporter = provider ? undefined : new PrometheusExporter({ preventServerStart: true });
  const own = exporter ? new SdkMeterProvider({ readers: [exporter] }) : undefined;
  const meter = (provider ?? (own as MeterProvider)).getMeter('simple-eshop.gateway');
  const attempts = meter.createCounter('gateway.upstream.attempts', {
    description: 'Attempts the gateway sent to each upstream, by outcome.',
    unit: '{attempt}',
  });
  const healthy = meter.createObservableGauge('gateway.upstream.healthy', {
    description: "1 when the upstream's last /health/ready check passed, else 0.",
  });
  const circuit = meter.createObservableGauge('gateway.upstream.circuit', {
    description: "1 for the state the upstream's circuit breaker is in, 0 for the others.",
  });
  const observe: BatchObservableCallback = (result) => {
    for (const { upstream, healthy: isHealthy, circuit: state } of status()) {
      result.observe(healthy, isHealthy ? 1 : 0, { upstream });
      for (const candidate of circuitStates) {
        result.observe(circuit, candidate === state ? 1 : 0, { upstream, state: candidate });
      }
    }
  };
  meter.addBatchObservableCallback(observe, [healthy, circuit]);
  const serializer = new PrometheusSerializer();
  return {
    attempt: (upstream, outcome) => attempts.add(1, { upstream, outcome }),
    async prometheusText() {
      if (!exporter) return undefined;
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
    async close() {
      meter.removeBatchObservableCallback(observe, [healthy, circuit]);
      await own?.shutdown();
    },
  };
}
