// The shop's CQRS and choreography on real servers: an order placed shows up in the order
// history and the sales dashboard (read models kept by projections from the event log), the
// choreographed shipping and notification services act once per order (a redelivered event
// included), a cancelled order is noticed, and the queries answer from the read models.
import { createEnvelope } from '@bulwark/messaging';
import { postgresEventLog, postgresOutbox } from '@bulwark/messaging/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopEventTable } from '../src/read-models/shop-events.js';
import { eventually, startTestShop, type TestShop } from './test-shop.js';

interface HistoryEntry {
  id: string;
  status: string;
  reason: string | null;
  tracking: string | null;
  totalCents: number;
  changes: Array<{ status: string; detail?: string }>;
}
interface Flow {
  id: string;
  saga: string;
  status: string;
  timeline: Array<{ kind: string; step: string | null }>;
}
interface Dashboard {
  days: Array<{ day: string; productId: string; orders: number; units: number; revenueCents: number }>;
}

describe('read models and choreographed fulfilment', () => {
  let shop: TestShop;
  let adminToken: string;
  let token: string;
  const email = 'rita@example.com';
  const login = async (address: string, password: string) =>
    (
      (await (await shop.request('POST', '/api/sessions', { body: { email: address, password } })).json()) as {
        token: string;
      }
    ).token;
  const myOrders = async () => (await (await shop.request('GET', '/api/orders', { token })).json()) as HistoryEntry[];
  const history = async (id: string) => shop.request('GET', `/api/orders/${id}/history`, { token });
  const flows = async () => (await (await shop.request('GET', '/ops/flows', { token: adminToken })).json()) as Flow[];
  const dashboard = async () =>
    (await (await shop.request('GET', '/ops/sales-dashboard', { token: adminToken })).json()) as Dashboard;
  const unitsSold = async (productId: string) =>
    (await dashboard()).days.filter((row) => row.productId === productId).reduce((sum, row) => sum + row.units, 0);
  const count = async (sql: string, values: unknown[]) =>
    ((await shop.pool.query<{ n: number }>(sql, values)).rows[0] as { n: number }).n;
  const placeOrder = async (productId: string, quantity: number, key: string) => {
    expect((await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId, quantity }] } })).status).toBe(
      200,
    );
    const placed = await shop.request('POST', '/api/orders', { token, headers: { 'idempotency-key': key }, body: {} });
    expect(placed.status).toBe(202);
    return ((await placed.json()) as { id: string }).id;
  };
  const shippedInHistory = (id: string) =>
    eventually(myOrders, (orders) => orders.some((order) => order.id === id && order.status === 'shipped'));

  beforeAll(async () => {
    shop = await startTestShop();
    adminToken = await login(shop.admin.email, shop.admin.password);
    await shop.request('POST', '/api/users', { body: { username: 'rita', email, password: 'rita-password' } });
    token = await login(email, 'rita-password');
  });
  afterAll(() => shop?.close());

  it('an order placed appears in the history with each status change, and in the sales dashboard', async () => {
    const before = await unitsSold('tent');
    const id = await placeOrder('tent', 2, 'rm-order-1');
    const orders = await shippedInHistory(id);
    const order = orders.find((entry) => entry.id === id) as HistoryEntry;
    expect(order.status).toBe('shipped');
    expect(order.changes.map((change) => change.status)).toEqual(['pending', 'confirmed', 'shipped']);
    expect(order.tracking).toMatch(/^TRK-/);
    const one = await history(id);
    expect(one.status).toBe(200);
    expect(((await one.json()) as HistoryEntry).changes).toHaveLength(3);
    expect(
      await eventually(
        () => unitsSold('tent'),
        (units) => units === before + 2,
      ),
    ).toBe(before + 2);
  });

  it('ships and notifies once per order, even when order.completed is delivered again', async () => {
    const id = await placeOrder('stove', 1, 'rm-order-2');
    await shippedInHistory(id);
    const flow = await eventually(flows, (all) => all.some((entry) => entry.id === id && entry.status === 'completed'));
    const fulfilment = flow.find((entry) => entry.id === id) as Flow;
    expect(fulfilment.saga).toBe('fulfil-order');
    expect(fulfilment.timeline.filter((entry) => entry.kind === 'step-completed').map((entry) => entry.step)).toEqual([
      'shipping',
      'notify-shipped',
    ]);
    const shippedMail = `shipment-created:${id}`;
    await eventually(
      () => count('SELECT count(*)::int AS n FROM shop_mail WHERE message_id = $1', [shippedMail]),
      (n) => n === 1,
    );

    // Deliver the very same order.completed again (same message id), as a broker redelivery would.
    const log = postgresEventLog(shop.pool, { table: shopEventTable });
    const completed = (await log.readStream(id)).find((event) => event.type === 'order.completed');
    expect(completed).toBeDefined();
    if (!completed) return;
    const outbox = postgresOutbox(shop.pool, { table: 'eshop_outbox' });
    await outbox.add(
      shop.pool,
      createEnvelope({
        id: completed.id,
        topic: completed.type,
        type: completed.type,
        key: id,
        headers: { correlationId: id },
        payload: completed.data,
      }),
    );
    // A later order going all the way through is the barrier: the duplicate was handled before it.
    const later = await placeOrder('stove', 1, 'rm-order-3');
    await shippedInHistory(later);
    await eventually(flows, (all) => all.some((entry) => entry.id === later && entry.status === 'completed'));
    expect(await count('SELECT count(*)::int AS n FROM shop_deliveries WHERE order_id = $1', [id])).toBe(1);
    expect(await count('SELECT count(*)::int AS n FROM shop_mail WHERE message_id = $1', [shippedMail])).toBe(1);
    const shipmentEvents = (await log.read({ types: ['shipment.created'], limit: 1_000 })).filter(
      (event) => (event.data as { orderId: string }).orderId === id,
    );
    expect(shipmentEvents).toHaveLength(1);
    await log.close();
  });

  it('a cancelled order shows as cancelled with its reason, and the customer is told once', async () => {
    const declines = await shop.request('POST', '/ops/faults', {
      token: adminToken,
      body: { target: 'payment', settings: { declineRate: 1 } },
    });
    expect(declines.status).toBe(200);
    try {
      const id = await placeOrder('tent', 1, 'rm-order-4');
      const orders = await eventually(myOrders, (all) =>
        all.some((order) => order.id === id && order.status === 'cancelled'),
      );
      const order = orders.find((entry) => entry.id === id) as HistoryEntry;
      expect(order.reason).toContain('payment declined');
      expect(order.changes.map((change) => change.status)).toEqual(['pending', 'cancelled']);
      await eventually(
        () => count('SELECT count(*)::int AS n FROM shop_mail WHERE message_id = $1', [`order-cancelled:${id}`]),
        (n) => n === 1,
      );
      const flow = await eventually(flows, (all) =>
        all.some((entry) => entry.id === id && entry.saga === 'notice-cancellation' && entry.status === 'completed'),
      );
      expect(flow.some((entry) => entry.id === id && entry.status === 'completed')).toBe(true);
      expect(await count('SELECT count(*)::int AS n FROM shop_deliveries WHERE order_id = $1', [id])).toBe(0);
    } finally {
      await shop.request('POST', '/ops/faults', { token: adminToken, body: { reset: true } });
    }
  });

  it('the history endpoints answer from the read model, not from the orders table', async () => {
    const [latest] = await myOrders();
    expect(latest).toBeDefined();
    if (!latest) return;
    await shop.pool.query("UPDATE shop_order_history SET status = 'seen-only-in-the-read-model' WHERE order_id = $1", [
      latest.id,
    ]);
    expect((await myOrders()).find((order) => order.id === latest.id)?.status).toBe('seen-only-in-the-read-model');
    expect(((await (await history(latest.id)).json()) as HistoryEntry).status).toBe('seen-only-in-the-read-model');
    // The write side is untouched, and the command's status URL still reads it.
    const write = await shop.pool.query<{ status: string }>('SELECT status FROM shop_orders WHERE id = $1', [
      latest.id,
    ]);
    expect(write.rows[0]?.status).not.toBe('seen-only-in-the-read-model');
    // Another user sees neither the order nor its history.
    await shop.request('POST', '/api/users', {
      body: { username: 'sam', email: 'sam@example.com', password: 'sam-password' },
    });
    const other = await login('sam@example.com', 'sam-password');
    expect((await shop.request('GET', `/api/orders/${latest.id}/history`, { token: other })).status).toBe(404);
  });

  it('the ops view shows projection lag and choreographed flows beside the orchestrated sagas', async () => {
    const status = (await (await shop.request('GET', '/ops/status', { token: adminToken })).json()) as {
      projections: Array<{ name: string; state: string; lagEvents: number | null; lagMs: number | null }>;
      sagas: Record<string, number>;
      flows: Record<string, number>;
    };
    const leaders = status.projections.filter((projection) => projection.state === 'running');
    expect(leaders.map((projection) => projection.name).sort()).toEqual(['order-history', 'sales-dashboard']);
    for (const leader of leaders) {
      expect(typeof leader.lagEvents).toBe('number');
      expect(typeof leader.lagMs).toBe('number');
    }
    expect(status.sagas.completed).toBeGreaterThanOrEqual(3);
    expect(status.flows.completed).toBeGreaterThanOrEqual(4);
  });
});

describe('a stalled choreographed flow', () => {
  let shop: TestShop;
  afterAll(() => shop?.close());

  it('is noticed: the tracker raises fulfil-order.timed-out and the flow ends failed', async () => {
    // Flows silent for a second are stalled; the email provider is down, so notification never answers.
    shop = await startTestShop({ SHOP_FLOW_STALL_MS: '1000', SHOP_RETRY_DELAYS_MS: '60000' });
    const login = async (address: string, password: string) =>
      (
        (await (await shop.request('POST', '/api/sessions', { body: { email: address, password } })).json()) as {
          token: string;
        }
      ).token;
    const adminToken = await login(shop.admin.email, shop.admin.password);
    await shop.request('POST', '/api/users', {
      body: { username: 'tom', email: 'tom@example.com', password: 'tom-password' },
    });
    const token = await login('tom@example.com', 'tom-password');
    const down = await shop.request('POST', '/ops/faults', {
      token: adminToken,
      body: { target: 'email', settings: { down: true } },
    });
    expect(down.status).toBe(200);
    await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId: 'tent', quantity: 1 }] } });
    const placed = await shop.request('POST', '/api/orders', {
      token,
      headers: { 'idempotency-key': 'stall-1' },
      body: {},
    });
    const { id } = (await placed.json()) as { id: string };

    const flows = await eventually(
      async () => (await (await shop.request('GET', '/ops/flows', { token: adminToken })).json()) as Flow[],
      (all) => all.some((flow) => flow.id === id && flow.status === 'failed'),
    );
    const flow = flows.find((entry) => entry.id === id) as Flow;
    expect(flow.status).toBe('failed');
    expect(flow.timeline.map((entry) => entry.step)).toContain('shipping');
    expect(flow.timeline.at(-1)).toMatchObject({ kind: 'saga-failed', step: 'fulfil-order.timed-out' });
    // Shipping did its part once; the customer was not told (the provider is down).
    const { rows } = await shop.pool.query('SELECT count(*)::int AS n FROM shop_deliveries WHERE order_id = $1', [id]);
    expect(rows[0].n).toBe(1);
  });
});
