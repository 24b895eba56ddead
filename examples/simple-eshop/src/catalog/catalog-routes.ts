import type { Cache } from '@bulwark/resilience';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { HttpProblem } from '../http/problem.js';
import { productsTag } from './catalog-cache.js';

export const Product = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  priceCents: Type.Integer(),
  image: Type.String(),
  stock: Type.Integer(),
});

const selectProduct = `SELECT id, name, description, price_cents AS "priceCents", image, stock FROM shop_products`;

type ProductRow = { id: string; name: string; description: string; priceCents: number; image: string; stock: number };

/** Catalog reads go through `cache` (stale answers while the database is down or slow). */
export const catalogRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool; cache: Cache }> = async (
  app,
  { pool, cache },
) => {
  app.get(
    '/api/products',
    { schema: { tags: ['catalog'], summary: 'List products', response: { 200: Type.Array(Product) } } },
    async () =>
      cache.getOrSet(
        'products',
        async ({ signal }) => {
          signal.throwIfAborted();
          return (await pool.query<ProductRow>(`${selectProduct} ORDER BY name`)).rows;
        },
        { tags: [productsTag] },
      ),
  );

  app.get(
    '/api/products/:id',
    {
      schema: {
        tags: ['catalog'],
        summary: 'One product',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Product },
      },
    },
    async (request) => {
      const product = await cache.getOrSet(
        `product:${request.params.id}`,
        async () => (await pool.query<ProductRow>(`${selectProduct} WHERE id = $1`, [request.params.id])).rows[0],
        { tags: [productsTag] },
      );
      if (!product) throw new HttpProblem(404, 'Not Found', `No product "${request.params.id}".`);
      return product;
    },
  );
};
