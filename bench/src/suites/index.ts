import type { BenchmarkDefinition } from '../harness.js';

/**
 * Every benchmark, loaded lazily so one suite's peer libraries load only when it is selected.
 * Each issue adds its suite file here.
 */
export async function benchmarks(): Promise<BenchmarkDefinition[]> {
  const suites = await Promise.all([
    import('./baseline.bench.js'),
    import('./resilience-policies.bench.js'),
    import('./idempotency.bench.js'),
    import('./rate-limit.bench.js'),
    import('./saga.bench.js'),
    import('./outbox.bench.js'),
    import('./outbox-brokers.bench.js'),
    import('./outbox-fleet-read.bench.js'),
    import('./transports.bench.js'),
    import('./postgres-latency.bench.js'),
    import('./claim-check-async-reply.bench.js'),
    import('./cache.bench.js'),
    import('./http.bench.js'),
    import('./event-log.bench.js'),
  ]);
  return suites.flatMap((suite) => suite.default);
}
