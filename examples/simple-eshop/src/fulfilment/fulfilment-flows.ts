// The choreographed flows after the order saga: no orchestrator, each service reacts to the event
// before it. The tracker follows each flow by its correlation id (the order id) in a saga log of
// its own, and raises `<flow>.timed-out` when one stalls, so a lost step is seen.
import { defineChoreography } from '@bulwark/saga';
import type { EmailSender } from '../email/email-sender.js';
import { orderEvents } from '../read-models/shop-events.js';
import {
  notificationEvents,
  notifyCancelledParticipant,
  notifyShippedParticipant,
} from './notification-participants.js';
import { shippingParticipant } from './shipping-participant.js';

/** The tracker's saga log table: apart from the order saga's, whose recovery would take the flows' leases. */
export const choreographyLogTable = 'eshop_choreography_log';

export function fulfilmentFlows(sender: EmailSender, options: { stallAfterMs: number }) {
  const notifyShipped = notifyShippedParticipant(sender);
  const notifyCancelled = notifyCancelledParticipant(sender);
  const fulfilOrder = defineChoreography({
    name: 'fulfil-order',
    startsWith: orderEvents.completed,
    completesWith: notificationEvents.shipped,
    participants: [shippingParticipant, notifyShipped],
    stallAfterMs: options.stallAfterMs,
  });
  const noticeCancellation = defineChoreography({
    name: 'notice-cancellation',
    startsWith: orderEvents.cancelled,
    completesWith: notificationEvents.cancelled,
    participants: [notifyCancelled],
    stallAfterMs: options.stallAfterMs,
  });
  return {
    /** Run by the orders role (shipping is its part of the shop). */
    shipping: shippingParticipant,
    /** Run by the email role. */
    notifyShipped,
    notifyCancelled,
    flows: [fulfilOrder, noticeCancellation],
  };
}
