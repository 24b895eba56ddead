// Text the database cannot hold unchanged (NUL, lone UTF-16 surrogates) is refused at the edge
// with a 400 problem naming the field, on every route and in params, query and body alike
// (issue 22: these answered 500). Text it can hold (emoji, right-to-left marks) goes through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShop, type TestShop } from './test-shop.js';

describe('text the database cannot hold', () => {
  let shop: TestShop;
  let token: string;

  beforeAll(async () => {
    shop = await startTestShop({ LOG_LEVEL: 'silent' });
    await shop.request('POST', '/api/users', {
      body: { username: 'nadia', email: 'nadia@example.com', password: 'nadia-password' },
    });
    const login = await shop.request('POST', '/api/sessions', {
      body: { email: 'nadia@example.com', password: 'nadia-password' },
    });
    token = ((await login.json()) as { token: string }).token;
  });
  afterAll(() => shop?.close());

  const expectProblem = async (response: Response, field: string | undefined) => {
    const body = (await response.json()) as { status: number; field?: string; detail: string };
    expect({ status: response.status, type: response.headers.get('content-type') }).toEqual({
      status: 400,
      type: expect.stringContaining('application/problem+json'),
    });
    if (field !== undefined) {
      expect(body.field).toBe(field);
      expect(body.detail).toContain(field);
    }
    return body;
  };

  it('GET /api/products/%00 answers 400 naming params.id', async () => {
    const body = await expectProblem(await shop.request('GET', '/api/products/%00'), 'params.id');
    expect(body.detail).toContain('NUL');
  });

  it('PUT /api/cart with a NUL in a productId answers 400 naming the line', async () => {
    const response = await shop.request('PUT', '/api/cart', {
      token,
      body: { items: [{ productId: 'te\u0000nt', quantity: 1 }] },
    });
    await expectProblem(response, 'body.items[0].productId');
  });

  it('POST /api/orders with a NUL in the note answers 400 and makes no order', async () => {
    await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId: 'spork', quantity: 1 }] } });
    const response = await shop.request('POST', '/api/orders', {
      token,
      body: { note: 'hi\u0000there' },
      headers: { 'idempotency-key': 'nul-note-1' },
    });
    await expectProblem(response, 'body.note');
    expect((await shop.pool.query('SELECT count(*)::int AS n FROM shop_orders')).rows[0].n).toBe(0);
  });

  it('regression: GET /api/reports/ (an empty id) as admin answers 400, not 500 (found by the fuzz test on PostgreSQL + Redis)', async () => {
    const login = await shop.request('POST', '/api/sessions', {
      body: { email: shop.admin.email, password: shop.admin.password },
    });
    const admin = ((await login.json()) as { token: string }).token;
    await expectProblem(await shop.request('GET', '/api/reports/', { token: admin }), undefined);
  });

  it('GET /api/orders/%00 answers 400 naming params.id', async () => {
    await expectProblem(await shop.request('GET', '/api/orders/%00', { token }), 'params.id');
  });

  it('refuses lone surrogates in a JSON body (raw \\ud800 escapes) naming the field', async () => {
    for (const surrogate of ['\\ud800', '\\udfff', 'x\\ud83dy']) {
      const response = await shop.request('POST', '/api/orders', {
        token,
        body: `{"note":"${surrogate}"}`,
        headers: { 'idempotency-key': `surrogate-${surrogate.length}-${surrogate.charCodeAt(2)}` },
      });
      const body = await expectProblem(response, 'body.note');
      expect(body.detail).toContain('surrogate');
    }
  });

  it('refuses a NUL in a property name and in the query string', async () => {
    await expectProblem(await shop.request('PUT', '/api/cart', { token, body: '{"items":[],"\\u0000":1}' }), 'body');
    await expectProblem(await shop.request('GET', '/api/products?limit=%00'), 'query.limit');
    await expectProblem(await shop.request('GET', '/api/products?%00=1'), 'query');
  });

  it('refuses a lone surrogate in the URL (bytes that are not UTF-8) with a 400 problem', async () => {
    await expectProblem(await shop.request('GET', '/api/products/%ED%A0%80'), undefined);
    await expectProblem(await shop.request('GET', '/api/orders/%ED%B0%80', { token }), undefined);
  });

  it('keeps emoji and right-to-left marks exactly', async () => {
    const note = 'door 🚪 code 👩🏽‍💻 \u200fשלום\u202e ok';
    const response = await shop.request('POST', '/api/orders', {
      token,
      body: { note },
      headers: { 'idempotency-key': 'emoji-note-1' },
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const { rows } = await shop.pool.query('SELECT note FROM shop_orders WHERE id = $1', [id]);
    expect(rows[0].note).toBe(note);
  });
});
