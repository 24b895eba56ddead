import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestShop, type TestShop } from './test-shop.js';

describe('orders with Idempotency-Key, and login limits', () => {
  let shop: TestShop;
  let token: string;
  let otherToken: string;

  const register = async (name: string) => {
    await shop.request('POST', '/api/users', {
      body: { username: name, email: `${name}@example.com`, password: `${name}-password` },
    });
    const login = await shop.request('POST', '/api/sessions', {
      body: { email: `${name}@example.com`, password: `${name}-password` },
    });
    return ((await login.json()) as { token: string }).token;
  };
  const fillCart = (as: string) =>
    shop.request('PUT', '/api/cart', { token: as, body: { items: [{ productId: 'spork', quantity: 2 }] } });
  const orderCount = async () =>
    (await shop.pool.query('SELECT count(*)::int AS n FROM shop_orders')).rows[0].n as number;

  beforeAll(async () => {
    shop = await startTestShop();
    token = await register('erin');
    otherToken = await register('finn');
  });
  afterAll(() => shop?.close());

  it('needs the key: 400 without it, 400 when malformed', async () => {
    await fillCart(token);
    const missing = await shop.request('POST', '/api/orders', { token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    const tooLong = await shop.request('POST', '/api/orders', {
      token,
      body: {},
      headers: { 'idempotency-key': 'k'.repeat(500) },
    });
    expect(tooLong.status).toBe(400);
    expect(await orderCount()).toBe(0);
  });

  it('one key posted twice makes one order; the second answer is a marked replay', async () => {
    const headers = { 'idempotency-key': 'order-key-1' };
    const first = await shop.request('POST', '/api/orders', { token, body: {}, headers });
    expect(first.status).toBe(202);
    const again = await shop.request('POST', '/api/orders', { token, body: {}, headers });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(await orderCount()).toBe(1);
  });

  it('the same key with another body is 422', async () => {
    const response = await shop.request('POST', '/api/orders', {
      token,
      body: { note: 'leave at the door' },
      headers: { 'idempotency-key': 'order-key-1' },
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { detail: string }).detail.length).toBeGreaterThan(0);
    expect(await orderCount()).toBe(1);
  });

  it('concurrent requests with one key: one order, the others 409 or a replay', async () => {
    await fillCart(token);
    const headers = { 'idempotency-key': 'order-key-concurrent' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => shop.request('POST', '/api/orders', { token, body: {}, headers })),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 202).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 202 || status === 409)).toBe(true);
    expect(await orderCount()).toBe(2);
  });

  it("keys are per user: another user's identical key is a new order, never a replay", async () => {
    await fillCart(otherToken);
    const response = await shop.request('POST', '/api/orders', {
      token: otherToken,
      body: {},
      headers: { 'idempotency-key': 'order-key-1' },
    });
    expect(response.status).toBe(202);
    expect(response.headers.get('idempotent-replayed')).toBeNull();
    expect(await orderCount()).toBe(3);
  });

  it("another user's order is 404, and the list shows only one's own", async () => {
    // The list is a read model, kept by a projection: it shows both orders once it caught up.
    const mine = await eventually(
      async () => (await (await shop.request('GET', '/api/orders', { token })).json()) as Array<{ id: string }>,
      (orders) => orders.length >= 2,
    );
    expect(mine).toHaveLength(2);
    const theirs = await shop.request('GET', `/api/orders/${mine[0]?.id}`, { token: otherToken });
    expect(theirs.status).toBe(404);
  });

  it('limits failed logins per email: 5 failures, then 429 with Retry-After, even for the right password', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const wrong = await shop.request('POST', '/api/sessions', {
        body: { email: 'erin@example.com', password: 'nope' },
      });
      expect(wrong.status).toBe(401);
    }
    const blocked = await shop.request('POST', '/api/sessions', {
      body: { email: 'erin@example.com', password: 'erin-password' },
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
