// Prometheus metrics (prom-client). Gauges are read from the patterns' snapshots when Prometheus
// scrapes, so nothing is counted twice and nothing runs between scrapes.
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import type { SagaOrchestrator } from '@bulwark/saga';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PaymentGateway } from '../payments/payment-gateway.js';

export interface ShopMetricsSources {
  pool: pg.Pool;
  payments: PaymentGateway;
  outbox: PostgresOutbox;
  sagas: Pick<SagaOrchestrator, 'counts'>;
  queueDepth: () => Promise<Record<string, number>>;
}

const breakerStates = { closed: 0, open: 1, 'half-open': 2, isolated: 3 } as const;

export function registerShopMetrics(registry: Registry, sources: ShopMetricsSources): void {
  const { payments } = sources;
  new Gauge({
    name: 'shop_circuit_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open, 3 isolated',
    labelNames: ['breaker'],
    registers: [registry],
    collect() {
      this.set({ breaker: payments.breaker.name }, breakerStates[payments.breaker.state]);
    },
  });
  new Gauge({
    name: 'shop_circuit_breaker_failure_rate',
    help: 'Failure rate over the breaker window',
    labelNames: ['breaker'],
    registers: [registry],
    collect() {
      this.set({ breaker: payments.breaker.name }, payments.breaker.snapshot().failureRate);
    },
  });
  new Gauge({
    name: 'shop_bulkhead_calls',
    help: 'Calls running and queued in the bulkhead',
    labelNames: ['bulkhead', 'state'],
    registers: [registry],
    collect() {
      const snapshot = payments.bulkhead.snapshot();
      this.set({ bulkhead: 'payments', state: 'running' }, snapshot.running);
      this.set({ bulkhead: 'payments', state: 'queued' }, snapshot.queued);
    },
  });
  new Gauge({
    name: 'shop_outbox_pending_messages',
    help: 'Committed outbox messages not yet published',
    registers: [registry],
    async collect() {
      this.set((await sources.outbox.lag()).pending);
    },
  });
  new Gauge({
    name: 'shop_outbox_lag_seconds',
    help: 'Age of the oldest unpublished outbox message',
    registers: [registry],
    async collect() {
      this.set((await sources.outbox.lag()).oldestAgeMs / 1000);
    },
  });
  new Gauge({
    name: 'shop_queue_depth',
    help: 'Messages waiting per topic/group (PostgreSQL transport)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const [queue, depth] of Object.entries(await sources.queueDepth())) this.set({ queue }, depth);
    },
  });
  new Gauge({
    name: 'shop_sagas',
    help: 'Saga runs by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      for (const [status, count] of Object.entries(await sources.sagas.counts())) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'shop_orders',
    help: 'Orders by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const { rows } = await sources.pool.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM shop_orders GROUP BY status',
      );
      for (const row of rows) this.set({ status: row.status }, row.n);
    },
  });
}

/** Request counts and durations by route and status. */
export function registerHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const requests = new Counter({
    name: 'shop_http_requests_total',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'shop_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    durations.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
