// The notification service, choreographed: it tells the customer their parcel is on its way
// (on `shipment.created`) or their order was cancelled (on `order.cancelled`), through the shop's
// email sender. Each email has a message id per order, so an event handled again (a crash after
// sending, before the inbox record committed) delivers it once.
import { defineParticipant } from '@bulwark/saga';
import type { PoolClient } from 'pg';
import type { EmailSender } from '../email/email-sender.js';
import { type OrderCancelledData, orderEvents } from '../read-models/shop-events.js';
import { type ShipmentCreated, shipmentEvents } from './shipping-participant.js';

export const notificationEvents = {
  shipped: 'customer.notified-shipped',
  shippedFailed: 'customer.notification-failed',
  cancelled: 'customer.notified-cancelled',
  cancelledFailed: 'customer.cancellation-notice-failed',
} as const;

const shortId = (orderId: string) => orderId.slice(0, 8);

export function notifyShippedParticipant(sender: EmailSender) {
  return defineParticipant<ShipmentCreated, PoolClient>({
    name: 'notify-shipped',
    reactsTo: shipmentEvents.created,
    emits: { success: notificationEvents.shipped, failure: notificationEvents.shippedFailed },
    async handle(shipment, { signal }) {
      const messageId = `shipment-created:${shipment.orderId}`;
      await sender.send(
        {
          messageId,
          to: shipment.email,
          subject: `Order ${shortId(shipment.orderId)} is on its way`,
          text: `Your parcel left our warehouse with ${shipment.carrier}.\n\nTracking ${shipment.tracking}\n`,
        },
        signal,
      );
      return { orderId: shipment.orderId, messageId };
    },
  });
}

export function notifyCancelledParticipant(sender: EmailSender) {
  return defineParticipant<OrderCancelledData, PoolClient>({
    name: 'notify-cancelled',
    reactsTo: orderEvents.cancelled,
    emits: { success: notificationEvents.cancelled, failure: notificationEvents.cancelledFailed },
    async handle(order, { signal }) {
      const messageId = `order-cancelled:${order.orderId}`;
      await sender.send(
        {
          messageId,
          to: order.email,
          subject: `Order ${shortId(order.orderId)} was cancelled`,
          text: `We are sorry: your order could not be completed (${order.reason}). Any payment was refunded.\n`,
        },
        signal,
      );
      return { orderId: order.orderId, messageId };
    },
  });
}
