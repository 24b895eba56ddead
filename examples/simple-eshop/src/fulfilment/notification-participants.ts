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

/** A participant that sends one email per event, under a message id that is the same on every retry. */
function emailParticipant<Data extends { orderId: string }>(
  sender: EmailSender,
  definition: {
    name: string;
    reactsTo: string;
    emits: { success: string; failure: string };
    email(data: Data): { messageId: string; to: string; subject: string; text: string };
  },
) {
  return defineParticipant<Data, PoolClient>({
    name: definition.name,
    reactsTo: definition.reactsTo,
    emits: definition.emits,
    async handle(data, { signal }) {
      const email = definition.email(data);
      await sender.send(email, signal);
      return { orderId: data.orderId, messageId: email.messageId };
    },
  });
}

export function notifyShippedParticipant(sender: EmailSender) {
  return emailParticipant<ShipmentCreated>(sender, {
    name: 'notify-shipped',
    reactsTo: shipmentEvents.created,
    emits: { success: notificationEvents.shipped, failure: notificationEvents.shippedFailed },
    email: (shipment) => ({
      messageId: `shipment-created:${shipment.orderId}`,
      to: shipment.email,
      subject: `Order ${shortId(shipment.orderId)} is on its way`,
      text: `Your parcel left our warehouse with ${shipment.carrier}.\n\nTracking ${shipment.tracking}\n`,
    }),
  });
}

export function notifyCancelledParticipant(sender: EmailSender) {
  return emailParticipant<OrderCancelledData>(sender, {
    name: 'notify-cancelled',
    reactsTo: orderEvents.cancelled,
    emits: { success: notificationEvents.cancelled, failure: notificationEvents.cancelledFailed },
    email: (order) => ({
      messageId: `order-cancelled:${order.orderId}`,
      to: order.email,
      subject: `Order ${shortId(order.orderId)} was cancelled`,
      text: `We are sorry: your order could not be completed (${order.reason}). Any payment was refunded.\n`,
    }),
  });
}
