import { withTransaction } from '@bulwark/resilience/postgres';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { authenticate } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';

const CartItem = Type.Object({
  productId: Type.String({ minLength: 1, maxLength: 64 }),
  quantity: Type.Integer({ minimum: 1, maximum: 99 }),
});
const Cart = Type.Object({
  items: Type.Array(
    Type.Object({
      productId: Type.String(),
      name: Type.String(),
      priceCents: Type.Integer(),
      quantity: Type.Integer(),
    }),
  ),
  totalCents: Type.Integer(),
});

export interface CartLine {
  productId: string;
  name: string;
  priceCents: number;
  quantity: number;
}

/** The signed-in user's cart with current prices. */
export async function readCart(
  pool: pg.Pool | pg.PoolClient,
  userId: string,
): Promise<{ items: CartLine[]; totalCents: number }> {
  const { rows } = await pool.query<CartLine>(
    `SELECT c.product_id AS "productId", p.name, p.price_cents AS "priceCents", c.quantity
       FROM shop_carts c JOIN shop_products p ON p.id = c.product_id WHERE c.user_id = $1 ORDER BY p.name`,
    [userId],
  );
  return { items: rows, totalCents: rows.reduce((sum, line) => sum + line.priceCents * line.quantity, 0) };
}

export const cartRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    '/api/cart',
    {
      preHandler: authenticate,
      schema: { tags: ['cart'], summary: 'The cart', security: [{ bearer: [] }], response: { 200: Cart } },
    },
    async (request) => readCart(pool, request.user.sub),
  );

  app.put(
    '/api/cart',
    {
      preHandler: authenticate,
      schema: {
        tags: ['cart'],
        summary: 'Replace the cart',
        security: [{ bearer: [] }],
        body: Type.Object({ items: Type.Array(CartItem, { maxItems: 50 }) }, { additionalProperties: false }),
        response: { 200: Cart },
      },
    },
    async (request) => {
      const userId = request.user.sub;
      const ids = [...new Set(request.body.items.map((item) => item.productId))];
      if (ids.length !== request.body.items.length)
        throw new HttpProblem(400, 'Bad Request', 'Each product may appear once in the cart.');
      await withTransaction(pool, async (client) => {
        const known = await client.query<{ id: string }>('SELECT id FROM shop_products WHERE id = ANY($1)', [ids]);
        const unknown = ids.filter((id) => !known.rows.some((row) => row.id === id));
        if (unknown.length) throw new HttpProblem(400, 'Bad Request', `Unknown products: ${unknown.join(', ')}.`);
        await client.query('DELETE FROM shop_carts WHERE user_id = $1', [userId]);
        for (const item of request.body.items) {
          await client.query('INSERT INTO shop_carts (user_id, product_id, quantity) VALUES ($1, $2, $3)', [
            userId,
            item.productId,
            item.quantity,
          ]);
        }
      });
      return readCart(pool, userId);
    },
  );
};
