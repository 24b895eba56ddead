// The sales dashboard read model: per day (UTC) and product, the confirmed orders, units and
// revenue. Kept from `order.confirmed` events; the ops view's dashboard reads only this table.
import type { EventLog, LoggedEvent } from '@bulwark/messaging';
import type pg from 'pg';
import { dataOf, type OrderConfirmedData, orderEvents } from './shop-events.js';
import { tableProjection } from './table-projection.js';

export const salesDashboardTable = 'shop_sales_dashboard';

/** The read model's table, named after `table` (the live one, or a rebuild's fresh one). */
export const salesDashboardDdl = (table: string) => `
  CREATE TABLE IF NOT EXISTS ${table} (
    day           date NOT NULL,
    product_id    text NOT NULL,
    name          text NOT NULL,
    orders        integer NOT NULL,
    units         integer NOT NULL,
    revenue_cents bigint NOT NULL,
    PRIMARY KEY (day, product_id)
  );`;

/** Adds a confirmed order's lines to their day's totals. */
async function apply(client: pg.PoolClient, table: string, event: LoggedEvent): Promise<void> {
  if (event.type !== orderEvents.confirmed) return;
  const { order } = dataOf<OrderConfirmedData>(event);
  const day = new Date(event.recordedAt).toISOString().slice(0, 10);
  for (const line of order.lines)
    await client.query(
      `INSERT INTO ${table} AS sales (day, product_id, name, orders, units, revenue_cents)
       VALUES ($1, $2, $3, 1, $4, $5)
       ON CONFLICT (day, product_id) DO UPDATE SET orders = sales.orders + 1, units = sales.units + $4,
         revenue_cents = sales.revenue_cents + $5, name = EXCLUDED.name`,
      [day, line.productId, line.name, line.quantity, line.quantity * line.priceCents],
    );
}

/** The projection that keeps {@link salesDashboardTable}; start it in the processes that run projections. */
export function salesDashboardProjection(
  log: EventLog<never, pg.PoolClient>,
  options: { pollIntervalMs?: number } = {},
) {
  return tableProjection(
    log,
    { name: 'sales-dashboard', table: salesDashboardTable, ddl: salesDashboardDdl, apply },
    options,
  );
}

export interface SalesDashboardRow {
  day: string;
  productId: string;
  name: string;
  orders: number;
  units: number;
  revenueCents: number;
}

/** The last `days` days of sales, newest day first, best sellers first within a day. */
export async function readSalesDashboard(pool: pg.Pool, days: number): Promise<SalesDashboardRow[]> {
  return (
    await pool.query<SalesDashboardRow>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, product_id AS "productId", name, orders, units,
         revenue_cents::float8 AS "revenueCents" FROM ${salesDashboardTable}
       WHERE day > (now() AT TIME ZONE 'UTC')::date - $1::int ORDER BY day DESC, revenue_cents DESC`,
      [days],
    )
  ).rows;
}
