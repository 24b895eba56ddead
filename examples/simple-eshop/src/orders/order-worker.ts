// The orders role: starts the order saga for each `order.placed` event, drives sagas (and takes
// over those of a dead process through the log's leases), and turns ended sagas into order states.
import { type ClaimCheck, consume, createEnvelope, type Envelope, type Transport } from '@bulwark/messaging';
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import { withTransaction } from '@bulwark/resilience/postgres';
import type { SagaOrchestrator } from '@bulwark/saga';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { deadLetterTopic } from '../infrastructure/messaging.js';
import { type OrderCancelledData, orderEvents } from '../read-models/shop-events.js';
import { type OrderSaga, ordersTopic, type PlaceOrderInput } from './order-saga.js';

export interface OrderWorkerOptions {
  pool: pg.Pool;
  transport: Transport;
  /** Carries `order.cancelled`, committed with the cancellation. */
  outbox: PostgresOutbox;
  /** Restores payloads the relay moved to the blob store (big orders). */
  claimCheck: ClaimCheck;
  sagas: SagaOrchestrator;
  saga: OrderSaga;
  log: FastifyBaseLogger;
  /** How often pending orders are checked against their sagas. @defaultValue 1000 */
  settleEveryMs?: number;
}

export interface OrderWorker {
  /** Settles one order now (tests and events call it). */
  settle(orderId: string): Promise<void>;
  close(): Promise<void>;
}

/** Why the saga did not complete, from its timeline. */
async function failureReason(sagas: SagaOrchestrator, orderId: string): Promise<string> {
  const history = await sagas.history(orderId);
  const failed = [...history].reverse().find((entry) => entry.kind === 'step-failed');
  const data = failed?.data as { message?: string; name?: string } | undefined;
  if (!failed) return 'the order could not be completed';
  const what =
    data?.name === 'PaymentDeclinedError'
      ? 'payment declined'
      : data?.name === 'OutOfStockError'
        ? 'out of stock'
        : `${failed.step} failed`;
  return `${what}: ${data?.message ?? 'unknown error'}`;
}

export async function startOrderWorker(options: OrderWorkerOptions): Promise<OrderWorker> {
  const { pool, sagas, saga, log } = options;

  const settle = async (orderId: string) => {
    const run = await sagas.get(orderId);
    if (!run || (run.status !== 'compensated' && run.status !== 'failed')) return;
    const reason =
      run.status === 'failed'
        ? `needs attention: ${await failureReason(sagas, orderId)}`
        : await failureReason(sagas, orderId);
    // The cancellation and its event commit together: the read models and the notification
    // service learn of it exactly when it happened.
    await withTransaction(pool, async (client) => {
      const cancelled = await client.query<{ email: string }>(
        `UPDATE shop_orders o SET status = 'cancelled', reason = $2, updated_at = now() FROM shop_users u
         WHERE o.id = $1 AND o.status = 'pending' AND u.id = o.user_id RETURNING u.email`,
        [orderId, reason],
      );
      const email = cancelled.rows[0]?.email;
      if (email === undefined) return;
      await options.outbox.add(
        client,
        createEnvelope<OrderCancelledData>({
          topic: orderEvents.cancelled,
          type: orderEvents.cancelled,
          key: orderId,
          headers: { correlationId: orderId },
          payload: { orderId, email, reason },
        }),
      );
    });
  };

  const unsubscribe = [
    sagas.on(
      'saga-compensated',
      (event) => void settle(event.sagaId).catch((error) => log.error({ err: error }, 'settling order failed')),
    ),
    sagas.on('saga-failed', (event) => {
      log.error(
        { orderId: event.sagaId, step: event.step, error: event.error },
        'order saga failed: a compensation keeps failing',
      );
      void settle(event.sagaId).catch((error) => log.error({ err: error }, 'settling order failed'));
    }),
  ];

  const consumer = await consume<PlaceOrderInput>(options.transport, {
    topic: ordersTopic,
    group: 'order-saga',
    concurrency: 16,
    retry: [200, 1_000, 5_000],
    deadLetter: deadLetterTopic,
    handler: async (envelope: Envelope<PlaceOrderInput>) => {
      if (envelope.type !== 'order.placed') return;
      const message = (await options.claimCheck.checkOut(envelope)) as Envelope<PlaceOrderInput>;
      log.info(
        { orderId: message.payload.orderId, correlationId: message.headers.correlationId },
        'starting the order saga',
      );
      // Idempotent by id: a redelivered event finds the run already started.
      await sagas.start(
        saga,
        { ...message.payload, correlationId: message.headers.correlationId ?? message.id },
        { id: message.payload.orderId },
      );
    },
  });

  // The safety net for events missed while this process was down: pending orders whose saga
  // ended are settled. Runs are recovered by the orchestrator itself.
  const settleEveryMs = options.settleEveryMs ?? 1_000;
  let stopped = false;
  const loop = setInterval(async () => {
    if (stopped) return;
    try {
      const { rows } = await pool.query<{ id: string }>(
        "SELECT id FROM shop_orders WHERE status = 'pending' AND created_at < now() - interval '2 seconds' ORDER BY created_at LIMIT 200",
      );
      for (const row of rows) await settle(row.id);
    } catch (error) {
      log.warn({ err: error }, 'order settlement round failed');
    }
  }, settleEveryMs);
  loop.unref();

  return {
    settle,
    async close() {
      stopped = true;
      clearInterval(loop);
      for (const remove of unsubscribe) remove();
      await consumer.close();
    },
  };
}
