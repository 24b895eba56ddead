import { bulkhead, circuitBreaker, consecutive, constant, pipeline, retry } from '@bulwark/resilience';

// Metrics hang off the typed events: count them into your metrics library (prom-client, OpenTelemetry…).
const counters = new Map<string, number>();
const count = (name: string) => counters.set(name, (counters.get(name) ?? 0) + 1);

const breaker = circuitBreaker({ name: 'payments', strategy: consecutive(2), halfOpenAfter: 30_000 });
const retrying = retry({ maxAttempts: 2, backoff: constant({ ms: 1 }) });
const limit = bulkhead({ maxConcurrent: 10, maxQueue: 0 });
const payments = pipeline(breaker, retrying, limit);

breaker.onStateChange(({ to }) => count(`breaker_state_${to}`));
breaker.onFailure(() => count('breaker_failures'));
breaker.onRejected(() => count('breaker_rejected'));
retrying.onRetry(() => count('retries'));
limit.onRejected(() => count('bulkhead_rejected'));

const fail = async (): Promise<string> => {
  throw new Error('down');
};
for (let call = 0; call < 3; call++) await payments.execute(fail).catch(() => {});

// Gauges come from snapshot(), read when the dashboard scrapes.
const { state } = breaker.snapshot();
const { running, maxConcurrent } = limit.snapshot();
console.log(Object.fromEntries([...counters].sort()));
console.log({ state, running, maxConcurrent });
// A Prometheus text exposition, as a /metrics route would serve it:
console.log([...counters].map(([name, value]) => `bulwark_${name}_total{policy="payments"} ${value}`).join('\n'));
// {
//   breaker_failures: 2,
//   breaker_rejected: 1,
//   breaker_state_open: 1,
//   retries: 2
// }
// { state: 'open', running: 0, maxConcurrent: 10 }
// bulwark_retries_total{policy="payments"} 2
// bulwark_breaker_failures_total{policy="payments"} 2
// bulwark_breaker_state_open_total{policy="payments"} 1
// bulwark_breaker_rejected_total{policy="payments"} 1
