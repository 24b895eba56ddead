// Faults switched on at run time, as an operator would: the shop must degrade, not cascade,
// and recover by itself once the fault clears.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually as eventuallyWithin, startTestShop, type TestShop } from './test-shop.js';

/** The background work here is slower (an outage to recover from): half a minute. */
const eventually = <T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000) =>
  eventuallyWithin(read, done, timeoutMs);

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.ceil((p / 100) * values.length) - 1] as number;

describe('chaos', () => {
  let shop: TestShop;
  let admin: string;
  let token: string;

  const placeOrder = async (key: string) => {
    await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId: 'headlamp', quantity: 1 }] } });
    const response = await shop.request('POST', '/api/orders', {
      token,
      body: {},
      headers: { 'idempotency-key': key },
    });
    expect(response.status).toBe(202);
    return (await response.json()) as { id: string; statusUrl: string };
  };
  const orderState = async (url: string) =>
    (await (await shop.request('GET', url, { token })).json()) as { status: string; reason: string | null };
  const headlamp = async () =>
    (await shop.pool.query("SELECT stock, reserved, sold, initial_stock FROM shop_products WHERE id = 'headlamp'"))
      .rows[0];
  const setFaults = (body: unknown) => shop.request('POST', '/ops/faults', { token: admin, body });
  const breakerState = async () =>
    (
      (await (await shop.request('GET', '/ops/status', { token: admin })).json()) as {
        breakers: Array<{ state: string }>;
      }
    ).breakers[0]?.state;
  /** The breaker admits a probe once its half-open delay has passed. */
  const breakerAdmits = () => eventually(breakerState, (state) => state !== 'open');

  beforeAll(async () => {
    shop = await startTestShop({ SHOP_RETRY_DELAYS_MS: '100,200', SHOP_BREAKER_HALF_OPEN_MS: '1000' });
    admin = (
      (await (
        await shop.request('POST', '/api/sessions', {
          body: { email: shop.admin.email, password: shop.admin.password },
        })
      ).json()) as { token: string }
    ).token;
    await shop.request('POST', '/api/users', {
      body: { username: 'gina', email: 'gina@example.com', password: 'gina-password' },
    });
    token = (
      (await (
        await shop.request('POST', '/api/sessions', { body: { email: 'gina@example.com', password: 'gina-password' } })
      ).json()) as { token: string }
    ).token;
  });
  afterAll(() => shop?.close());
  // Each case starts with every fault off, whatever the previous one left.
  afterEach(async () => {
    await setFaults({ reset: true });
  });

  const catalogLatencies = async (count: number) => {
    const latencies: number[] = [];
    for (let index = 0; index < count; index++) {
      const started = performance.now();
      expect((await shop.request('GET', '/api/products')).status).toBe(200);
      latencies.push(performance.now() - started);
    }
    return latencies;
  };

  it('payment down: the breaker opens, orders are cancelled with stock released, the catalog stays fast, and orders confirm after the fault clears', async () => {
    const before = await headlamp();
    const baselineP99 = percentile(await catalogLatencies(100), 99);
    expect((await setFaults({ target: 'payment', settings: { down: true } })).status).toBe(200);

    const orders = [];
    for (let index = 0; index < 8; index++) orders.push(await placeOrder(`down-${index}`));

    // Meanwhile the catalog does not wait on the payment provider, whose attempts take up to 2 s
    // to time out: every request answers, p99 under a quarter of that. (Not a speed claim, which
    // belongs to `pnpm bench`; a tighter bound failed on a loaded CI machine at 70 ms.)
    const outageP99 = percentile(await catalogLatencies(100), 99);
    expect(
      outageP99,
      `catalog p99 ${outageP99.toFixed(1)} ms during the outage, ${baselineP99.toFixed(1)} ms before`,
    ).toBeLessThan(500);

    for (const order of orders) {
      const state = await eventually(
        () => orderState(order.statusUrl),
        (value) => value.status !== 'pending',
      );
      expect(state.status).toBe('cancelled');
      expect(state.reason).toMatch(/authorize-payment|circuit|down/i);
    }
    const status = (await (await shop.request('GET', '/ops/status', { token: admin })).json()) as {
      breakers: Array<{ state: string }>;
    };
    expect(status.breakers[0]?.state).toMatch(/open|half-open/);
    const after = await headlamp();
    expect(after.stock).toBe(before.stock);
    expect(after.reserved).toBe(before.reserved);

    await setFaults({ reset: true });
    expect(await breakerAdmits()).not.toBe('open');
    const recovered = await placeOrder('after-recovery');
    const state = await eventually(
      () => orderState(recovered.statusUrl),
      (value) => value.status !== 'pending',
    );
    expect(state.status).toBe('confirmed');
    const final = await headlamp();
    expect(final.stock + final.reserved + final.sold).toBe(final.initial_stock);
  });

  it('a declined card compensates at once, without retries', async () => {
    expect(await breakerAdmits()).not.toBe('open');
    await setFaults({ target: 'payment', settings: { declineRate: 1 } });
    const order = await placeOrder('declined');
    const state = await eventually(
      () => orderState(order.statusUrl),
      (value) => value.status !== 'pending',
    );
    expect(state.status).toBe('cancelled');
    expect(state.reason).toMatch(/payment declined/);
    await setFaults({ reset: true });
  });

  it('email down: emails go to the dead letters, and out once the fault clears and they are replayed', async () => {
    await setFaults({ target: 'email', settings: { down: true } });
    expect(
      (
        await shop.request('POST', '/api/users', {
          body: { username: 'hugo', email: 'hugo@example.com', password: 'hugo-password' },
        })
      ).status,
    ).toBe(201);
    const dlq = await eventually(
      async () =>
        (await (await shop.request('GET', '/ops/dlq', { token: admin })).json()) as Array<{ id: string; type: string }>,
      (letters) => letters.some((letter) => letter.type === 'user.registered'),
    );
    expect(dlq.some((letter) => letter.type === 'user.registered')).toBe(true);
    const mailboxBefore = (await (
      await shop.request('GET', '/ops/mail?to=hugo@example.com', { token: admin })
    ).json()) as unknown[];
    expect(mailboxBefore).toHaveLength(0);

    await setFaults({ reset: true });
    const replay = (await (await shop.request('POST', '/ops/dlq/replay', { token: admin, body: {} })).json()) as {
      replayed: number;
    };
    expect(replay.replayed).toBeGreaterThanOrEqual(1);
    const mailbox = await eventually(
      async () =>
        (await (await shop.request('GET', '/ops/mail?to=hugo@example.com', { token: admin })).json()) as Array<{
          subject: string;
        }>,
      (mail) => mail.length > 0,
    );
    expect(mailbox.map((mail) => mail.subject)).toEqual(['Welcome to the shop, hugo!']);
    const remaining = (await (await shop.request('GET', '/ops/dlq', { token: admin })).json()) as unknown[];
    expect(remaining).toHaveLength(0);
  });

  it('no order is left pending', async () => {
    const pending = await eventually(
      async () =>
        (await shop.pool.query("SELECT count(*)::int AS n FROM shop_orders WHERE status = 'pending'")).rows[0]
          .n as number,
      (count) => count === 0,
    );
    expect(pending).toBe(0);
  });

  it('reports run in the background: 202, then the report through its status URL', async () => {
    const accepted = await shop.request('POST', '/api/reports', { token: admin, body: {} });
    expect(accepted.status).toBe(202);
    const location = accepted.headers.get('location') as string;
    const report = await eventually(
      async () =>
        (await (await shop.request('GET', location, { token: admin })).json()) as {
          status: string;
          result?: { orders: { confirmed: number } };
        },
      (value) => value.status === 'succeeded' || value.status === 'failed',
    );
    expect(report.status).toBe('succeeded');
    expect(report.result?.orders.confirmed).toBeGreaterThanOrEqual(1);
    expect((await shop.request('POST', '/api/reports', { token, body: {} })).status).toBe(403);
  });
});
