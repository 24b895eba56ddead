// Bad input never crashes the shop: fast-check throws hostile input (see fuzz-inputs.ts: NUL and
// lone surrogates, emoji and right-to-left marks, very long strings, deep nesting, numbers out of
// range, __proto__/constructor keys, wrong content types) at every endpoint of the OpenAPI
// document, in bodies, path parameters, query strings and headers, as anonymous, customer and
// admin; no answer may be a 5xx, and the shop's books hold afterwards.

import { isCI } from '@bulwark/test-support';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBooks } from '../src/load/books.js';
import {
  encodeUrlComponent,
  type FuzzBody,
  hostileBody,
  hostileHeader,
  hostilePathParameter,
  hostileString,
} from './fuzz-inputs.js';
import { startTestShop, type TestShop } from './test-shop.js';

describe('security and bad input', () => {
  let shop: TestShop;
  let customer: string;
  let admin: string;
  let routes: Array<{ method: string; path: string }>;
  const cartBody = JSON.stringify({ items: [{ productId: 'spork', quantity: 1 }] });

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
        path,
      })),
    );
  });
  afterAll(() => shop?.close());

  it('lists every API route in the OpenAPI document', () => {
    const listed = routes.map((route) => `${route.method} ${route.path.replace(/\{[^}]+\}/g, 'some-id')}`);
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

  // Random inputs locally (a failure prints its seed; FUZZ_SEED replays it); one fixed seed under CI, so
  // a landing is not decided by which inputs a run happened to draw.
  const fuzzSeed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : isCI() ? 20_261_206 : undefined;

  it('answers hostile input on every route, as anyone, with less than 500, and the books stay exact', async () => {
    // A cart with a real line now and then, so hostile notes reach real orders.
    const body = fc.oneof(
      { arbitrary: hostileBody, weight: 9 },
      { arbitrary: fc.constant<FuzzBody>({ text: cartBody, contentType: 'application/json' }), weight: 1 },
    );
    const tried = new Map<string, number>();
    // Each route gets its own runs, so none is left to chance.
    for (const fixedRoute of routes) {
      await fc.assert(
        fc.asyncProperty(
          fc.constant(fixedRoute),
          body,
          fc.constantFrom<string | undefined>(undefined, 'customer', 'admin'),
          fc.option(hostileHeader, { nil: undefined }),
          fc.dictionary(
            fc.oneof(fc.constantFrom('limit', 'status', 'to', 'topic', 'id'), hostileString),
            hostileString,
            {
              maxKeys: 3,
            },
          ),
          hostilePathParameter,
          async (route, payload, who, idempotencyKey, query, pathParameter) => {
            const headers: Record<string, string> = {};
            if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
            if (who) headers.authorization = `Bearer ${who === 'admin' ? admin : customer}`;
            const withBody = route.method !== 'GET';
            if (withBody && payload.contentType) headers['content-type'] = payload.contentType;
            const search = Object.entries(query)
              .map(([name, value]) => `${encodeUrlComponent(name)}=${encodeUrlComponent(value)}`)
              .join('&');
            const path = route.path.replace(/\{[^}]+\}/g, encodeUrlComponent(pathParameter));
            const response = await fetch(`${shop.url}${path}${search ? `?${search}` : ''}`, {
              method: route.method,
              headers,
              ...(withBody ? { body: payload.text } : {}),
            });
            await response.arrayBuffer();
            const label = `${route.method} ${route.path}`;
            tried.set(label, (tried.get(label) ?? 0) + 1);
            if (response.status >= 500)
              throw new Error(
                `${route.method} ${path} answered ${response.status} to ${String(payload.text).slice(0, 300)}`,
              );
          },
        ),
        { numRuns: 60, ...(fuzzSeed === undefined ? {} : { seed: fuzzSeed }) },
      );
    }
    // Every route was tried, and the books hold after the storm.
    expect([...tried.keys()].sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
    const books = await checkBooks({
      pool: shop.pool,
      adminToken: admin,
      call: (method, path, init = {}) => shop.request(method, path, init),
    });
    expect(Object.entries(books.invariants).filter(([, result]) => !result.ok)).toEqual([]);
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
