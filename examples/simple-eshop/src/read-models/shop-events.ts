// The shop's event log and the events of the order's life that the read models and the
// choreographed participants follow. Everything the outbox publishes is also kept in the log
// (the outbox's `keep`), in the transaction of the command that caused it.
import type { LoggedEvent } from '@bulwark/messaging';
import type { OrderLine } from '../orders/stock.js';

/** The event log's table (its projections' checkpoints live in `<table>_checkpoints`). */
export const shopEventTable = 'eshop_events';

/** Outcome events of the order saga: topic and type are the same, so participants can react to them. */
export const orderEvents = {
  placed: 'order.placed',
  confirmed: 'order.confirmed',
  completed: 'order.completed',
  cancelled: 'order.cancelled',
} as const;

export interface OrderPlacedData {
  orderId: string;
  userId: string;
  email: string;
  totalCents: number;
  lines: OrderLine[];
}

export interface OrderConfirmedData {
  order: { id: string; lines: OrderLine[]; totalCents: number; tracking: string; confirmedAt: string };
}

/** What `order.completed` carries: enough for shipping and notification, no personal data beyond the email. */
export interface OrderCompletedData {
  orderId: string;
  email: string;
  totalCents: number;
  tracking: string;
}

export interface OrderCancelledData {
  orderId: string;
  email: string;
  reason: string;
}

/** The event log keeps data as JSON; these read it back typed. */
export const dataOf = <Data>(event: LoggedEvent): Data => event.data as Data;
