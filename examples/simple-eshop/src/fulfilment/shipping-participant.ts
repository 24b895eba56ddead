// The shipping service, choreographed: it reacts to the order saga's `order.completed` by booking
// the parcel with the carrier (a row in `shop_deliveries`, written in the participant's
// transaction) and emits `shipment.created` through the outbox in that same transaction; the
// inbox makes a redelivered `order.completed` book nothing twice.
import { defineParticipant } from '@bulwark/saga';
import type { PoolClient } from 'pg';
import { type OrderCompletedData, orderEvents } from '../read-models/shop-events.js';

/** What `shipment.created` carries. */
export type ShipmentCreated = { orderId: string; email: string; carrier: string; tracking: string };

export const shipmentEvents = { created: 'shipment.created', failed: 'shipment.failed' } as const;

export const shippingParticipant = defineParticipant<OrderCompletedData, PoolClient>({
  name: 'shipping',
  reactsTo: orderEvents.completed,
  emits: { success: shipmentEvents.created, failure: shipmentEvents.failed },
  async handle(order, { transaction }) {
    const carrier = 'parcel-post';
    await transaction.query(
      'INSERT INTO shop_deliveries (order_id, carrier, tracking) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING',
      [order.orderId, carrier, order.tracking],
    );
    const created: ShipmentCreated = { orderId: order.orderId, email: order.email, carrier, tracking: order.tracking };
    return created;
  },
});
