// Stock moves for the order saga. Every function is idempotent per order (a reservation row
// records where the order's stock is), so a step that runs again after a crash or a retry never
// moves stock twice. Invariant, per product: stock + reserved + sold = initial_stock.
import { withTransaction } from '@bulwark/resilience/postgres';
import type pg from 'pg';

export interface OrderLine {
  productId: string;
  quantity: number;
  priceCents: number;
  name: string;
}

/** Some product has less stock than the order asks for: a business outcome, never retried. */
export class OutOfStockError extends Error {
  override name = 'OutOfStockError';
  constructor(readonly productIds: readonly string[]) {
    super(`not enough stock for ${productIds.join(', ')}`);
  }
}

/** Called inside a transaction that moved the stock of these products (the catalog shows stock). */
export type StockAnnouncer = (client: pg.PoolClient, productIds: readonly string[]) => Promise<void>;

/**
 * Every stock move locks its products in this order, so concurrent reservations, releases and
 * sales never wait on each other in a cycle (a release or sale in the stored line order deadlocked
 * with reservations under load).
 */
const inLockOrder = (lines: readonly OrderLine[]) => [...lines].sort((a, b) => a.productId.localeCompare(b.productId));

/** Moves the order's quantities from stock to reserved, all or nothing. */
export async function reserveStock(
  pool: pg.Pool,
  orderId: string,
  lines: readonly OrderLine[],
  announce?: StockAnnouncer,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    const existing = await client.query('SELECT state FROM shop_reservations WHERE order_id = $1 FOR UPDATE', [
      orderId,
    ]);
    if (existing.rowCount) return;
    const short: string[] = [];
    for (const line of inLockOrder(lines)) {
      const moved = await client.query(
        'UPDATE shop_products SET stock = stock - $2, reserved = reserved + $2 WHERE id = $1 AND stock >= $2',
        [line.productId, line.quantity],
      );
      if (!moved.rowCount) short.push(line.productId);
    }
    if (short.length) throw new OutOfStockError(short);
    await client.query("INSERT INTO shop_reservations (order_id, items, state) VALUES ($1, $2, 'reserved')", [
      orderId,
      JSON.stringify(lines),
    ]);
    await announce?.(
      client,
      lines.map((line) => line.productId),
    );
  });
}

/** The order's reservation while it is still held, locked until the transaction ends. */
async function heldReservation(client: pg.PoolClient, orderId: string): Promise<OrderLine[] | undefined> {
  const { rows } = await client.query<{ items: OrderLine[]; state: string }>(
    'SELECT items, state FROM shop_reservations WHERE order_id = $1 FOR UPDATE',
    [orderId],
  );
  return rows[0]?.state === 'reserved' ? rows[0].items : undefined;
}

/** Gives reserved stock back (compensation); does nothing when it was released or sold already. */
export async function releaseStock(pool: pg.Pool, orderId: string, announce?: StockAnnouncer): Promise<void> {
  await withTransaction(pool, async (client) => {
    const lines = await heldReservation(client, orderId);
    if (!lines) return;
    for (const line of inLockOrder(lines)) {
      await client.query('UPDATE shop_products SET stock = stock + $2, reserved = reserved - $2 WHERE id = $1', [
        line.productId,
        line.quantity,
      ]);
    }
    await client.query("UPDATE shop_reservations SET state = 'released' WHERE order_id = $1", [orderId]);
    await announce?.(
      client,
      lines.map((line) => line.productId),
    );
  });
}

/** Turns the order's reservation into sales, inside the caller's transaction. */
export async function markStockSold(client: pg.PoolClient, orderId: string): Promise<void> {
  const lines = await heldReservation(client, orderId);
  if (!lines) return;
  for (const line of inLockOrder(lines)) {
    await client.query('UPDATE shop_products SET reserved = reserved - $2, sold = sold + $2 WHERE id = $1', [
      line.productId,
      line.quantity,
    ]);
  }
  await client.query("UPDATE shop_reservations SET state = 'sold' WHERE order_id = $1", [orderId]);
}
