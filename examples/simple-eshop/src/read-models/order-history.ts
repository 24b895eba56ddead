// The order-history read model: one row per order with its current status and every status
// change, per user. Kept from the event log by a projection; `GET /api/orders` and
// `GET /api/orders/:id/history` read only this table, never `shop_orders`.
import type { EventLog, LoggedEvent } from '@bulwark/messaging';
import type pg from 'pg';
import type { ShipmentCreated } from '../fulfilment/shipping-participant.js';
import type { OrderLine } from '../orders/stock.js';
import {
  dataOf,
  type OrderCancelledData,
  type OrderConfirmedData,
  type OrderPlacedData,
  orderEvents,
} from './shop-events.js';
import { tableProjection } from './table-projection.js';

export const orderHistoryTable = 'shop_order_history';

export interface OrderStatusChange {
  status: string;
  at: string;
  detail?: string;
}

/** The read model's table and index, named after `table` (the live one, or a rebuild's fresh one). */
export const orderHistoryDdl = (table: string) => `
  CREATE TABLE IF NOT EXISTS ${table} (
    order_id    uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    status      text NOT NULL,
    reason      text,
    tracking    text,
    total_cents integer NOT NULL,
    items       jsonb NOT NULL,
    placed_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    changes     jsonb NOT NULL
  );
  CREATE INDEX IF NOT EXISTS ${table}_user ON ${table} (user_id, placed_at DESC);`;

async function apply(client: pg.PoolClient, table: string, event: LoggedEvent): Promise<void> {
  const at = new Date(event.recordedAt).toISOString();
  // Appends a status change; an order unknown here (its placement was pruned) is left alone.
  const change = (orderId: string, status: string, extra: { reason?: string; tracking?: string } = {}) => {
    const entry: OrderStatusChange = { status, at, ...(extra.reason ? { detail: extra.reason } : {}) };
    return client.query(
      `UPDATE ${table} SET status = $2, reason = COALESCE($3, reason), tracking = COALESCE($4, tracking),
         updated_at = $5, changes = changes || $6::jsonb WHERE order_id = $1`,
      [orderId, status, extra.reason ?? null, extra.tracking ?? null, at, JSON.stringify([entry])],
    );
  };
  switch (event.type) {
    case orderEvents.placed: {
      const order = dataOf<OrderPlacedData>(event);
      await client.query(
        `INSERT INTO ${table} (order_id, user_id, status, total_cents, items, placed_at, updated_at, changes)
         VALUES ($1, $2, 'pending', $3, $4, $5, $5, $6) ON CONFLICT (order_id) DO NOTHING`,
        [
          order.orderId,
          order.userId,
          order.totalCents,
          JSON.stringify(order.lines),
          at,
          JSON.stringify([{ status: 'pending', at }]),
        ],
      );
      return;
    }
    case orderEvents.confirmed: {
      const { order } = dataOf<OrderConfirmedData>(event);
      await change(order.id, 'confirmed', { tracking: order.tracking });
      return;
    }
    case orderEvents.cancelled: {
      const order = dataOf<OrderCancelledData>(event);
      await change(order.orderId, 'cancelled', { reason: order.reason });
      return;
    }
    case 'shipment.created': {
      const shipment = dataOf<ShipmentCreated>(event);
      await change(shipment.orderId, 'shipped', { tracking: shipment.tracking });
      return;
    }
  }
}

/** The projection that keeps {@link orderHistoryTable}; start it in the processes that run projections. */
export function orderHistoryProjection(log: EventLog<never, pg.PoolClient>, options: { pollIntervalMs?: number } = {}) {
  return tableProjection(
    log,
    { name: 'order-history', table: orderHistoryTable, ddl: orderHistoryDdl, apply },
    options,
  );
}

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const selectHistory = `SELECT order_id AS id, status, reason, tracking, total_cents AS "totalCents", items,
  ${iso('placed_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt", changes FROM ${orderHistoryTable}`;

export interface OrderHistoryRow {
  id: string;
  status: string;
  reason: string | null;
  tracking: string | null;
  totalCents: number;
  items: OrderLine[];
  createdAt: string;
  updatedAt: string;
  changes: OrderStatusChange[];
}

/** A user's orders, newest first, from the read model (missing table: none yet). */
export async function readOrderHistory(pool: pg.Pool, userId: string, limit = 100): Promise<OrderHistoryRow[]> {
  return (
    await pool.query<OrderHistoryRow>(`${selectHistory} WHERE user_id = $1 ORDER BY placed_at DESC LIMIT $2`, [
      userId,
      limit,
    ])
  ).rows;
}

/** One order of a user from the read model, or undefined (also for another user's order). */
export async function readOrderHistoryEntry(
  pool: pg.Pool,
  userId: string,
  orderId: string,
): Promise<OrderHistoryRow | undefined> {
  return (await pool.query<OrderHistoryRow>(`${selectHistory} WHERE order_id = $1 AND user_id = $2`, [orderId, userId]))
    .rows[0];
}
