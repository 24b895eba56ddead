import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestShop, type TestShop } from './test-shop.js';

interface Mail {
  to: string;
  subject: string;
  body: string;
  attachments: Array<{ filename: string; bytes: number }>;
}

describe('the whole journey', () => {
  let shop: TestShop;
  let adminToken: string;
  const login = async (email: string, password: string) =>
    ((await (await shop.request('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string })
      .token;
  const mailFor = async (to: string) =>
    (await (
      await shop.request('GET', `/ops/mail?to=${encodeURIComponent(to)}`, { token: adminToken })
    ).json()) as Mail[];

  beforeAll(async () => {
    shop = await startTestShop();
    adminToken = await login(shop.admin.email, shop.admin.password);
  });
  afterAll(() => shop?.close());

  it('register → welcome email → login → cart → order → confirmed → confirmation email with the order document', async () => {
    const email = 'dora@example.com';
    expect(
      (await shop.request('POST', '/api/users', { body: { username: 'dora', email, password: 'dora-password' } }))
        .status,
    ).toBe(201);
    const welcome = await eventually(
      () => mailFor(email),
      (mail) => mail.some((entry) => entry.subject.startsWith('Welcome')),
    );
    expect(welcome.map((entry) => entry.subject)).toContain('Welcome to the shop, dora!');

    const token = await login(email, 'dora-password');
    // Many lines make the order document bigger than the claim check's threshold.
    const products = (await (await shop.request('GET', '/api/products')).json()) as Array<{
      id: string;
      stock: number;
    }>;
    const items = products.slice(0, 20).map((product) => ({ productId: product.id, quantity: 1 }));
    expect((await shop.request('PUT', '/api/cart', { token, body: { items } })).status).toBe(200);

    const placed = await shop.request('POST', '/api/orders', {
      token,
      headers: { 'idempotency-key': 'journey-order-1' },
      body: {},
    });
    expect(placed.status).toBe(202);
    const location = placed.headers.get('location') as string;
    expect(location).toMatch(/^\/api\/orders\/[0-9a-f-]{36}$/);

    const order = await eventually(
      async () =>
        (await (await shop.request('GET', location, { token })).json()) as {
          status: string;
          saga: { status: string; timeline: Array<{ kind: string }> };
        },
      // The order is confirmed inside the last step; the saga's own completion is written right after.
      (value) => value.status !== 'pending' && value.saga.status !== 'running',
    );
    expect(order.status).toBe('confirmed');
    expect(order.saga.status).toBe('completed');
    expect(order.saga.timeline.filter((entry) => entry.kind === 'step-completed')).toHaveLength(4);

    const confirmation = await eventually(
      () => mailFor(email),
      (mail) => mail.some((entry) => entry.subject.includes('confirmed')),
    );
    const mail = confirmation.find((entry) => entry.subject.includes('confirmed')) as Mail;
    expect(mail.body).toContain('Tracking TRK-');
    expect(mail.attachments[0]?.bytes).toBeGreaterThan(1024);
    // The order document travelled through the claim check: its blob is in the store.
    const blobs = (await readdir(join(shop.dataDir, 'blobs'), { recursive: true })).filter(
      (name) => !name.endsWith('.meta.json'),
    );
    expect(blobs.length).toBeGreaterThanOrEqual(1);
    const { rows } = await shop.pool.query(
      "SELECT count(*)::int AS n FROM provider_payments WHERE operation = 'capture'",
    );
    expect(rows[0].n).toBe(1);
  });
});
