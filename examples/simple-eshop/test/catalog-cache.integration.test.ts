// The catalog through the cache: stock moves invalidate it by message, and while the database is
// unreachable the catalog keeps answering its last good values (stale-if-error), then catches up.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestShop, type TestShop } from './test-shop.js';

interface Product {
  id: string;
  stock: number;
}

describe('the catalog cache', () => {
  let shop: TestShop;
  // 60 s fresh: any change seen sooner came through the invalidation event, not expiry.
  beforeAll(async () => {
    shop = await startTestShop({ SHOP_CATALOG_TTL_MS: '60000' });
  });
  afterAll(() => shop?.close());

  const products = async () => (await (await shop.request('GET', '/api/products')).json()) as Product[];
  const login = async (email: string, password: string) =>
    ((await (await shop.request('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string })
      .token;

  it('a stock move invalidates the cached catalog through its event, long before the ttl', async () => {
    const before = await products();
    const first = before[0] as Product;
    expect(
      (
        await shop.request('POST', '/api/users', {
          body: { username: 'cid', email: 'cid@example.com', password: 'cid-password' },
        })
      ).status,
    ).toBe(201);
    const token = await login('cid@example.com', 'cid-password');
    expect(
      (await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId: first.id, quantity: 2 }] } }))
        .status,
    ).toBe(200);
    const placed = await shop.request('POST', '/api/orders', {
      token,
      headers: { 'idempotency-key': 'cache-order-1' },
      body: {},
    });
    expect(placed.status).toBe(202);
    const after = await eventually(
      products,
      (list) => list.find((product) => product.id === first.id)?.stock !== first.stock,
    );
    expect(after.find((product) => product.id === first.id)?.stock).toBe(first.stock - 2);
  });

  it('with the database unreachable, cached reads answer and uncached ones fail; once back, all answer', async () => {
    const listed = await products();
    await withDatabaseUnreachable(shop, async () => {
      const during = await shop.request('GET', '/api/products');
      expect(during.status).toBe(200);
      expect(await during.json()).toEqual(listed);
      // Never read before, so not in the cache: it needs the database, which is gone.
      expect((await shop.request('GET', `/api/products/${listed[1]?.id}`)).status).toBeGreaterThanOrEqual(500);
    });
    const back = await eventually(
      () => shop.request('GET', `/api/products/${listed[1]?.id}`),
      (response) => response.status === 200,
    );
    expect(back.status).toBe(200);
  });
});

describe('the catalog cache past its ttl', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ SHOP_CATALOG_TTL_MS: '300' });
  });
  afterAll(() => shop?.close());

  it('with the database unreachable for longer than the ttl, the catalog answers its stale values (stale-if-error)', async () => {
    const listed = (await (await shop.request('GET', '/api/products')).json()) as Product[];
    await withDatabaseUnreachable(shop, async () => {
      for (let read = 0; read < 5; read += 1) {
        await new Promise((resolve) => setTimeout(resolve, 400)); // past the 300 ms ttl each time
        const during = await shop.request('GET', '/api/products');
        expect(during.status).toBe(200);
        expect(await during.json()).toEqual(listed);
      }
    });
    // The ops view counts them.
    const session = await shop.request('POST', '/api/sessions', {
      body: { email: shop.admin.email, password: shop.admin.password },
    });
    const { token } = (await session.json()) as { token: string };
    const status = (await (await shop.request('GET', '/ops/status', { token })).json()) as {
      caches: Array<{ name: string; staleAnswers: number; hits: number }>;
    };
    expect(status.caches.find((cache) => cache.name === 'catalog')?.staleAnswers).toBeGreaterThanOrEqual(5);
    await shop.pool.query('UPDATE shop_products SET stock = stock + 1 WHERE id = $1', [listed[0]?.id]);
    // Back and past the ttl: the next read goes to the database again.
    const fresh = await eventually(
      async () => (await (await shop.request('GET', '/api/products')).json()) as Product[],
      (list) => list[0]?.stock === (listed[0]?.stock ?? 0) + 1,
    );
    expect(fresh[0]?.stock).toBe((listed[0]?.stock ?? 0) + 1);
  });
});

/** Makes the shop's database refuse connections and ends the ones it has, for the duration of `during`. */
async function withDatabaseUnreachable(shop: TestShop, during: () => Promise<void>): Promise<void> {
  const url = new URL(String((shop.pool.options as pg.PoolConfig).connectionString));
  const database = decodeURIComponent(url.pathname.slice(1));
  // From template1, since the shop's own database may be `postgres` (embedded mode).
  url.pathname = '/template1';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
    await expect(shop.pool.query('SELECT 1')).rejects.toThrow();
    await during();
  } finally {
    await admin.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`);
    await admin.end();
  }
}
