// The shop's OpenTelemetry SDK end to end: an order's trace, as the ops view reads it from the span
// store, runs from the HTTP request through the outbox, the relay, the transport and the consumer
// to the saga's steps and the payment calls; the route charts read `http.server.request.duration`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestShop, type TestShop } from './test-shop.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  role: string;
}

describe('telemetry', () => {
  let shop: TestShop;
  let adminToken: string;
  const login = async (email: string, password: string) =>
    ((await (await shop.request('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string })
      .token;

  beforeAll(async () => {
    shop = await startTestShop();
    adminToken = await login(shop.admin.email, shop.admin.password);
  });
  afterAll(() => shop?.close());

  it("shows an order's trace: request → outbox → relay → transport → consumer → saga steps → payment calls", async () => {
    await shop.request('POST', '/api/users', {
      body: { username: 'tess', email: 'tess@example.com', password: 'tess-password' },
    });
    const token = await login('tess@example.com', 'tess-password');
    await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId: 'compass', quantity: 1 }] } });
    const placed = await shop.request('POST', '/api/orders', {
      token,
      headers: {
        'idempotency-key': 'telemetry-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      body: {},
    });
    expect(placed.status).toBe(202);
    const { id } = (await placed.json()) as { id: string };

    const names = (spans: Span[]) => spans.map((span) => span.name);
    const spans = await eventually(
      async () =>
        ((await (await shop.request('GET', `/ops/traces/${id}`, { token: adminToken })).json()) as { spans: Span[] })
          .spans,
      // Spans are written when they end: the saga's root ends last, after its steps.
      (found) =>
        names(found).includes('payment capture') &&
        found.every(
          (span) => span.name === 'POST /api/orders' || found.some((parent) => parent.spanId === span.parentSpanId),
        ),
    );
    // One trace, continuing the caller's traceparent.
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set(['0af7651916cd43dd8448eb211c80319c']));
    expect(names(spans)).toEqual(
      expect.arrayContaining([
        'POST /api/orders',
        'create orders',
        'send orders',
        'process orders',
        'payment authorize',
        'payment capture',
      ]),
    );
    expect(names(spans).some((name) => name.startsWith('saga '))).toBe(true);
    // Every span but the request's hangs from another span of the trace: a tree, not a list.
    const ids = new Set(spans.map((span) => span.spanId));
    const request = spans.find((span) => span.name === 'POST /api/orders');
    expect(request?.parentSpanId).toBe('b7ad6b7169203331');
    for (const span of spans) if (span !== request) expect(ids.has(span.parentSpanId ?? ''), span.name).toBe(true);

    const listed = (await (await shop.request('GET', '/ops/traces?limit=20', { token: adminToken })).json()) as Array<{
      orderId: string;
    }>;
    expect(listed.map((entry) => entry.orderId)).toContain(id);
    expect((await shop.request('GET', '/ops/traces', { token })).status).toBe(403);
  });

  it('charts each route from http.server.request.duration: rate, p50/p99, error rate, availability', async () => {
    for (let index = 0; index < 5; index++) await shop.request('GET', '/api/products');
    const routes = await eventually(
      async () =>
        (
          (await (
            await shop.request('GET', '/ops/routes?minutes=15&slotSeconds=10', { token: adminToken })
          ).json()) as {
            routes: Record<
              string,
              Array<{ requestsPerSecond: number; p50Ms: number; p99Ms: number; availability: number }>
            >;
          }
        ).routes,
      (found) => (found['GET /api/products'] ?? []).reduce((sum, point) => sum + point.requestsPerSecond, 0) > 0,
    );
    const products = routes['GET /api/products'] ?? [];
    const total = products.reduce((sum, point) => sum + point.requestsPerSecond * 10, 0);
    expect(total).toBeGreaterThanOrEqual(5);
    expect(products.every((point) => point.p99Ms >= point.p50Ms && point.availability === 1)).toBe(true);
    expect((await shop.request('GET', '/ops/routes?minutes=0', { token: adminToken })).status).toBe(400);
    expect((await shop.request('GET', '/ops/routes?slotSeconds=1', { token: adminToken })).status).toBe(400);
  });
});
