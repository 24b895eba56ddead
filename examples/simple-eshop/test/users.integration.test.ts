import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShop, type TestShop } from './test-shop.js';

describe('users and sessions over HTTP', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop();
  });
  afterAll(() => shop?.close());

  it('registers a user, refuses a duplicate, and logs in', async () => {
    const user = { username: 'ann', email: 'Ann@Example.com', password: 'correct horse' };
    const created = await shop.request('POST', '/api/users', { body: user });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ username: 'ann', email: 'ann@example.com' });

    const duplicate = await shop.request('POST', '/api/users', { body: user });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get('content-type')).toContain('application/problem+json');

    const login = await shop.request('POST', '/api/sessions', {
      body: { email: 'ann@example.com', password: 'correct horse' },
    });
    expect(login.status).toBe(201);
    const { token } = (await login.json()) as { token: string };
    const cart = await shop.request('GET', '/api/cart', { token });
    expect(cart.status).toBe(200);
    expect(await cart.json()).toEqual({ items: [], totalCents: 0 });
  });

  it('answers a wrong password with 401 and no token', async () => {
    const login = await shop.request('POST', '/api/sessions', {
      body: { email: 'ann@example.com', password: 'wrong' },
    });
    expect(login.status).toBe(401);
  });

  it('answers bad input with 400 problem details, never 500', async () => {
    for (const body of ['{bad', '[]', JSON.stringify({ username: 'x', email: 'no-at', password: 1 })]) {
      const response = await shop.request('POST', '/api/users', { body });
      expect(response.status, body).toBe(400);
      const problem = (await response.json()) as { detail: string };
      expect(problem.detail.length).toBeGreaterThan(0);
    }
    const huge = await shop.request('POST', '/api/users', {
      body: JSON.stringify({ username: 'x'.repeat(1_000_000) }),
    });
    expect(huge.status).toBe(413);
  });

  it('serves the catalog, the OpenAPI document and readiness', async () => {
    const products = (await (await shop.request('GET', '/api/products')).json()) as unknown[];
    expect(products.length).toBeGreaterThanOrEqual(20);
    expect((await shop.request('GET', '/api/products/no-such')).status).toBe(404);
    const openapi = (await (await shop.request('GET', '/docs/openapi.json')).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/api/users', '/api/sessions', '/api/products', '/api/cart']),
    );
    expect((await shop.request('GET', '/health/ready')).status).toBe(200);
    const metrics = await (await shop.request('GET', '/metrics')).text();
    // The OpenTelemetry instruments, in Prometheus text (see the observability guide for the names).
    expect(metrics).toMatch(
      /http_server_request_duration_count\{http_request_method="GET",http_response_status_code="200",http_route="\/api\/products",[^}]*\} [1-9]\d*/,
    );
    expect(metrics).toMatch(
      /bulwark_circuit_breaker_state\{bulwark_circuit_breaker_name="payments",bulwark_circuit_breaker_state="closed",[^}]*\} 1/,
    );
    expect(metrics).toMatch(/shop_outbox_pending\{[^}]*\} \d+/);
  });
});
