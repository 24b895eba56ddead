// Bad input never crashes the shop: fast-check throws generated bodies (any JSON, wrong types,
// huge strings, broken JSON) at every endpoint of the OpenAPI document, as anonymous, customer
// and admin; every answer must be a 4xx or a success with a problem body for errors — never 5xx.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShop, type TestShop } from './test-shop.js';

describe('security and bad input', () => {
  let shop: TestShop;
  let customer: string;
  let admin: string;
  let routes: Array<{ method: string; path: string }>;

  beforeAll(async () => {
    shop = await startTestShop({ LOG_LEVEL: 'silent' });
    const login = async (email: string, password: string) =>
      ((await (await shop.request('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string })
        .token;
    await shop.request('POST', '/api/users', {
      body: { username: 'joan', email: 'joan@example.com', password: 'joan-password' },
    });
    customer = await login('joan@example.com', 'joan-password');
    admin = await login(shop.admin.email, shop.admin.password);
    const openapi = (await (await shop.request('GET', '/docs/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    routes = Object.entries(openapi.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({
        method: method.toUpperCase(),
        path: path.replace(/\{[^}]+\}/g, 'some-id'),
      })),
    );
  });
  afterAll(() => shop?.close());

  it('lists every API route in the OpenAPI document', () => {
    const listed = routes.map((route) => `${route.method} ${route.path}`);
    for (const expected of [
      'POST /api/users',
      'POST /api/sessions',
      'GET /api/products',
      'PUT /api/cart',
      'POST /api/orders',
      'GET /api/orders/some-id',
      'POST /api/reports',
      'GET /ops/status',
      'POST /ops/faults',
      'POST /ops/dlq/replay',
    ]) {
      expect(listed).toContain(expected);
    }
  });

  it('answers generated bodies on every route with less than 500', async () => {
    const body = fc.oneof(
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.string({ maxLength: 200 }),
      fc
        .record({
          username: fc.anything(),
          email: fc.anything(),
          password: fc.anything(),
          items: fc.anything(),
          note: fc.anything(),
        })
        .map((value) => {
          try {
            return JSON.stringify(value);
          } catch {
            return '{}';
          }
        }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        body,
        fc.constantFrom<string | undefined>(undefined, 'customer', 'admin'),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        fc.dictionary(fc.constantFrom('limit', 'status', 'to', 'topic', 'id'), fc.string({ maxLength: 40 }), {
          maxKeys: 3,
        }),
        async (route, payload, who, idempotencyKey, query) => {
          const headers: Record<string, string> = {};
          if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey.replace(/[^\t\x20-\x7e]/g, 'x');
          const search = new URLSearchParams(query).toString();
          const response = await shop.request(route.method, search ? `${route.path}?${search}` : route.path, {
            ...(route.method === 'GET' ? {} : { body: payload }),
            ...(who ? { token: who === 'admin' ? admin : customer } : {}),
            headers,
          });
          await response.arrayBuffer();
          if (response.status >= 500)
            throw new Error(`${route.method} ${route.path} answered ${response.status} to ${payload}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('answers a malformed URL with a 400 problem', async () => {
    const response = await shop.request('GET', '/api/products/%00%ff');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('refuses huge bodies with 413 and wrong content types with 415', async () => {
    const huge = await shop.request('PUT', '/api/cart', {
      token: customer,
      body: JSON.stringify({ items: [], pad: 'x'.repeat(2_000_000) }),
    });
    expect(huge.status).toBe(413);
    const text = await shop.request('POST', '/api/users', {
      body: 'username=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(text.status).toBe(415);
  });

  it('never returns a password, and stores only argon2id hashes', async () => {
    const created = await shop.request('POST', '/api/users', {
      body: { username: 'kim', email: 'kim@example.com', password: 'kim-secret-password' },
    });
    expect(await created.text()).not.toContain('kim-secret-password');
    const { rows } = await shop.pool.query("SELECT password_hash FROM shop_users WHERE email = 'kim@example.com'");
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
  });

  it('rejects forged and expired tokens', async () => {
    const [header, payload] = customer.split('.') as [string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin' }),
    ).toString('base64url');
    const forged = `${header}.${forgedPayload}.${customer.split('.')[2]}`;
    expect((await shop.request('GET', '/ops/status', { token: forged })).status).toBe(401);
    expect((await shop.request('GET', '/api/cart', { token: 'not-a-token' })).status).toBe(401);
  });
});
