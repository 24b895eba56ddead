// The order saga: reserve stock → authorize payment → capture → create shipment (which also
// confirms the order). A failure compensates in reverse: refund, void, release stock. Each step
// passes the saga's idempotency key (`<orderId>:<step>`) to whatever it calls, so a step that
// runs again after a crash never charges or moves stock twice.
import { createEnvelope } from '@bulwark/messaging';
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import { exponential, retry } from '@bulwark/resilience';
import { withTransaction } from '@bulwark/resilience/postgres';
import { defineSaga } from '@bulwark/saga';
import type pg from 'pg';
import { announceStockChange } from '../catalog/catalog-cache.js';
import { isRetryableDatabaseError } from '../infrastructure/database-unavailable.js';
import type { PaymentProvider } from '../payments/payment-provider.js';
import { type OrderCompletedData, orderEvents } from '../read-models/shop-events.js';
import { markStockSold, type OrderLine, releaseStock, reserveStock } from './stock.js';

export interface PlaceOrderInput {
  orderId: string;
  userId: string;
  email: string;
  totalCents: number;
  lines: OrderLine[];
  /** Carried into the messages the saga causes. */
  correlationId: string;
}

export interface OrderSagaDependencies {
  pool: pg.Pool;
  payments: PaymentProvider;
  outbox: PostgresOutbox;
}

export const ordersTopic = 'orders';

/**
 * The steps that only touch the shop's database retry while it is unreachable (a restart, a
 * terminated backend; about 12 s in all, so an order outlives a database restart instead of being
 * cancelled for it) and after a deadlock or serialization rollback. Both steps are idempotent per
 * order. Other errors (out of stock) fail the step at once.
 */
const whileDatabaseUnavailable = retry({
  maxAttempts: 8,
  backoff: exponential({ initialMs: 200, maxMs: 3_000, jitter: 'full' }),
  retryOn: isRetryableDatabaseError,
});

export function orderSaga({ pool, payments, outbox }: OrderSagaDependencies) {
  // Stock moves invalidate the cached catalog through an event committed with the move.
  const announce = announceStockChange(outbox);
  return defineSaga<PlaceOrderInput>('place-order')
    .step('reserve-stock', {
      execute: async ({ input }) => {
        await reserveStock(pool, input.orderId, input.lines, announce);
        return null;
      },
      compensate: ({ input }) => releaseStock(pool, input.orderId, announce),
      retry: whileDatabaseUnavailable,
    })
    .step('authorize-payment', {
      execute: ({ input, idempotencyKey, signal }) =>
        payments.authorize({ orderId: input.orderId, amountCents: input.totalCents, idempotencyKey }, signal),
      compensate: ({ input, result, idempotencyKey, signal }) =>
        payments.void(
          { orderId: input.orderId, authorizationId: result.authorizationId, idempotencyKey: `${idempotencyKey}:void` },
          signal,
        ),
    })
    .step('capture-payment', {
      execute: ({ input, results, idempotencyKey, signal }) =>
        payments.capture(
          {
            orderId: input.orderId,
            authorizationId: results['authorize-payment'].authorizationId,
            amountCents: input.totalCents,
            idempotencyKey,
          },
          signal,
        ),
      compensate: ({ input, results, idempotencyKey, signal }) =>
        payments.refund(
          {
            orderId: input.orderId,
            authorizationId: results['authorize-payment'].authorizationId,
            amountCents: input.totalCents,
            idempotencyKey: `${idempotencyKey}:refund`,
          },
          signal,
        ),
    })
    .step('create-shipment', {
      retry: whileDatabaseUnavailable,
      // Shipment, sale and confirmation commit together, with the event that emails the customer.
      execute: ({ input, results }) =>
        withTransaction(pool, async (client) => {
          const tracking = `TRK-${input.orderId.slice(0, 8).toUpperCase()}`;
          await client.query('INSERT INTO shop_shipments (order_id, tracking) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
            input.orderId,
            tracking,
          ]);
          await markStockSold(client, input.orderId);
          const confirmed = await client.query(
            "UPDATE shop_orders SET status = 'confirmed', updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING created_at",
            [input.orderId],
          );
          if (confirmed.rowCount) {
            await outbox.add(client, [
              createEnvelope({
                topic: ordersTopic,
                type: 'order.confirmed',
                key: input.orderId,
                headers: { correlationId: input.correlationId },
                payload: {
                  // The full order document: big orders travel through the claim check.
                  order: {
                    id: input.orderId,
                    email: input.email,
                    lines: input.lines,
                    totalCents: input.totalCents,
                    tracking,
                    captureId: results['capture-payment'].captureId,
                    confirmedAt: new Date().toISOString(),
                  },
                },
              }),
              // The saga's outcome, on a topic of its own: the choreographed shipping and
              // notification services react to it. The order id is the flow's correlation id.
              createEnvelope<OrderCompletedData>({
                topic: orderEvents.completed,
                type: orderEvents.completed,
                key: input.orderId,
                headers: { correlationId: input.orderId },
                payload: { orderId: input.orderId, email: input.email, totalCents: input.totalCents, tracking },
              }),
            ]);
          }
          return { tracking };
        }),
    });
}

export type OrderSaga = ReturnType<typeof orderSaga>;
