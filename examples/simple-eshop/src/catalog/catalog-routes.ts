import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { HttpProblem } from '../http/problem.js';

export const Product = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  priceCents: Type.Integer(),
  image: Type.String(),
  stock: Type.Integer(),
});

const selectProduct = `SELECT id, name, description, price_cents AS "priceCents", image, stock FROM shop_products`;

export const catalogRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    '/api/products',
    { schema: { tags: ['catalog'], summary: 'List products', response: { 200: Type.Array(Product) } } },
    async () => (await pool.query(`${selectProduct} ORDER BY name`)).rows,
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
      const { rows } = await pool.query(`${selectProduct} WHERE id = $1`, [request.params.id]);
      if (!rows[0]) throw new HttpProblem(404, 'Not Found', `No product "${request.params.id}".`);
      return rows[0];
    },
  );
};
