// The shop's own metrics, as OpenTelemetry observable instruments read when a reader collects
// (a Prometheus scrape of /metrics, the route-sample reader, OTLP), so nothing runs between
// collections. The patterns report their own (`bulwark.circuit_breaker.*`, `bulwark.bulkhead.*`,
// `bulwark.outbox.lag`, `messaging.*`, `bulwark.saga.duration`: see the observability guide);
// these add what only the shop knows. Names on /metrics: `shop_orders`, `shop_sagas`,
// `shop_queue_depth`, `shop_outbox_pending`.

import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import type { SagaOrchestrator } from '@bulwark/saga';
import { metrics, type ObservableResult } from '@opentelemetry/api';
import type pg from 'pg';

export interface ShopMetricsSources {
  pool: pg.Pool;
  outbox: Pick<PostgresOutbox, 'lag'>;
  sagas: Pick<SagaOrchestrator, 'counts'>;
  queueDepth: () => Promise<Record<string, number>>;
}

/** Registers the shop's instruments; the returned function unregisters their callbacks. */
export function observeShop(sources: ShopMetricsSources): () => void {
  const meter = metrics.getMeter('simple-eshop');
  const orders = meter.createObservableGauge('shop.orders', { description: 'Orders by status.', unit: '{order}' });
  const sagas = meter.createObservableGauge('shop.sagas', { description: 'Saga runs by status.', unit: '{run}' });
  const queueDepth = meter.createObservableGauge('shop.queue.depth', {
    description: 'Messages waiting per consumer group, where the transport can tell.',
    unit: '{message}',
  });
  const outboxPending = meter.createObservableGauge('shop.outbox.pending', {
    description: 'Committed outbox messages not yet published.',
    unit: '{message}',
  });
  const observe = async (result: ObservableResult, read: () => Promise<Record<string, number>>, key: string) => {
    for (const [value, count] of Object.entries(await read())) result.observe(count, { [key]: value });
  };
  const onOrders = (result: ObservableResult) =>
    observe(
      result,
      async () => {
        const { rows } = await sources.pool.query<{ status: string; n: number }>(
          'SELECT status, count(*)::int AS n FROM shop_orders GROUP BY status',
        );
        return Object.fromEntries(rows.map((row) => [row.status, row.n]));
      },
      'shop.order.status',
    );
  const onSagas = (result: ObservableResult) =>
    observe(result, () => sources.sagas.counts() as Promise<Record<string, number>>, 'bulwark.saga.status');
  const onQueues = (result: ObservableResult) => observe(result, sources.queueDepth, 'messaging.destination.name');
  const onOutbox = async (result: ObservableResult) => result.observe((await sources.outbox.lag()).pending);
  orders.addCallback(onOrders);
  sagas.addCallback(onSagas);
  queueDepth.addCallback(onQueues);
  outboxPending.addCallback(onOutbox);
  return () => {
    orders.removeCallback(onOrders);
    sagas.removeCallback(onSagas);
    queueDepth.removeCallback(onQueues);
    outboxPending.removeCallback(onOutbox);
  };
}
