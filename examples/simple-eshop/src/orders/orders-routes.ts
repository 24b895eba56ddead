import { randomUUID } from 'node:crypto';
import { createEnvelope } from '@bulwark/messaging';
// Brings the route option `config.idempotency` of the Idempotency-Key plugin into scope.
import type {} from '@bulwark/messaging/fastify';
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import { withTransaction } from '@bulwark/resilience/postgres';
import type { SagaOrchestrator } from '@bulwark/saga';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { trace } from '@opentelemetry/api';
import type pg from 'pg';
import { Type } from 'typebox';
import { readCart } from '../cart/cart-routes.js';
import { authenticate } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';
import { ordersTopic } from './order-saga.js';

export interface OrdersRoutesOptions {
  pool: pg.Pool;
  outbox: PostgresOutbox;
  /** Reads saga timelines; any orchestrator on the shared log can (it need not drive the run). */
  sagas: Pick<SagaOrchestrator, 'history' | 'get'>;
}

export const OrderSummary = Type.Object({
  id: Type.String(),
  status: Type.String(),
  reason: Type.Union([Type.String(), Type.Null()]),
  totalCents: Type.Integer(),
  items: Type.Array(
    Type.Object({
      productId: Type.String(),
      name: Type.String(),
      quantity: Type.Integer(),
      priceCents: Type.Integer(),
    }),
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const selectOrder = `SELECT id, status, reason, total_cents AS "totalCents", items,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt",
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "updatedAt" FROM shop_orders`;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const ordersRoutes: FastifyPluginAsyncTypebox<OrdersRoutesOptions> = async (app, { pool, outbox, sagas }) => {
  app.post(
    '/api/orders',
    {
      preHandler: authenticate,
      config: { idempotency: true },
      schema: {
        tags: ['orders'],
        summary: 'Order the cart (needs an Idempotency-Key header)',
        description: 'Answers 202 at once; the order saga runs in the background. Poll the Location.',
        security: [{ bearer: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: Type.Optional(
          Type.Object(
            { note: Type.Optional(Type.String({ maxLength: 500, description: 'A delivery note' })) },
            { additionalProperties: false },
          ),
        ),
        response: { 202: Type.Object({ id: Type.String(), status: Type.String(), statusUrl: Type.String() }) },
      },
    },
    async (request, reply) => {
      const user = request.user;
      const orderId = randomUUID();
      // The ops view finds the order's trace by this attribute of the request's span.
      trace.getActiveSpan()?.setAttribute('shop.order.id', orderId);
      await withTransaction(pool, async (client) => {
        const cart = await readCart(client, user.sub);
        if (cart.items.length === 0)
          throw new HttpProblem(400, 'Bad Request', 'The cart is empty: PUT /api/cart first.');
        const { rows } = await client.query<{ email: string }>('SELECT email FROM shop_users WHERE id = $1', [
          user.sub,
        ]);
        await client.query(
          'INSERT INTO shop_orders (id, user_id, total_cents, items, note) VALUES ($1, $2, $3, $4, $5)',
          [orderId, user.sub, cart.totalCents, JSON.stringify(cart.items), request.body?.note ?? null],
        );
        await client.query('DELETE FROM shop_carts WHERE user_id = $1', [user.sub]);
        // The saga starts from this event, so an order committed here is never left without one.
        await outbox.add(
          client,
          createEnvelope({
            topic: ordersTopic,
            type: 'order.placed',
            key: orderId,
            headers: { correlationId: request.id },
            payload: {
              orderId,
              userId: user.sub,
              email: rows[0]?.email ?? '',
              totalCents: cart.totalCents,
              lines: cart.items,
            },
          }),
        );
      });
      const statusUrl = `/api/orders/${orderId}`;
      return reply.code(202).header('location', statusUrl).send({ id: orderId, status: 'pending', statusUrl });
    },
  );

  app.get(
    '/api/orders/:id',
    {
      preHandler: authenticate,
      schema: {
        tags: ['orders'],
        summary: 'One of my orders, with its saga timeline',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      },
    },
    async (request) => {
      // Another user's order answers exactly like a missing one: its existence is not revealed.
      const notFound = new HttpProblem(404, 'Not Found', `No order "${request.params.id}".`);
      if (!uuid.test(request.params.id)) throw notFound;
      const { rows } = await pool.query(`${selectOrder} WHERE id = $1 AND user_id = $2`, [
        request.params.id,
        request.user.sub,
      ]);
      const order = rows[0];
      if (!order) throw notFound;
      // The run first, then its timeline: the timeline is then never behind the status shown.
      const run = await sagas.get(order.id);
      const timeline = (await sagas.history(order.id)).map((entry) => ({
        at: new Date(entry.at).toISOString(),
        kind: entry.kind,
        ...(entry.step ? { step: entry.step } : {}),
        ...(entry.attempt ? { attempt: entry.attempt } : {}),
        ...(entry.data !== undefined && entry.kind.includes('fail') ? { detail: entry.data } : {}),
      }));
      return { ...order, saga: { status: run?.status ?? 'not-started', timeline } };
    },
  );
};
