// The shop's queries on its read models: a user's orders and an order's history, and the sales
// dashboard. They read only the projections' tables, never the write side (`shop_orders`), so
// they answer what the projections have applied: eventually consistent, usually within 100 ms.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { authenticate, requireAdmin } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';
import { OrderSummary } from '../orders/orders-routes.js';
import { readOrderHistory, readOrderHistoryEntry } from './order-history.js';
import { readSalesDashboard } from './sales-dashboard.js';

const StatusChange = Type.Object({ status: Type.String(), at: Type.String(), detail: Type.Optional(Type.String()) });
const OrderHistory = Type.Intersect([
  OrderSummary,
  Type.Object({ tracking: Type.Union([Type.String(), Type.Null()]), changes: Type.Array(StatusChange) }),
]);

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const readModelRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    '/api/orders',
    {
      preHandler: authenticate,
      schema: {
        tags: ['orders'],
        summary: 'My orders (from the order-history read model)',
        description: 'Eventually consistent: an order just placed appears once the projection applied its event.',
        security: [{ bearer: [] }],
        response: { 200: Type.Array(OrderHistory) },
      },
    },
    async (request) => readOrderHistory(pool, request.user.sub),
  );

  app.get(
    '/api/orders/:id/history',
    {
      preHandler: authenticate,
      schema: {
        tags: ['orders'],
        summary: 'One of my orders with its status changes (from the order-history read model)',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: OrderHistory },
      },
    },
    async (request) => {
      // Another user's order answers exactly like a missing one.
      const notFound = new HttpProblem(404, 'Not Found', `No order "${request.params.id}" in the history yet.`);
      if (!uuid.test(request.params.id)) throw notFound;
      const entry = await readOrderHistoryEntry(pool, request.user.sub, request.params.id);
      if (!entry) throw notFound;
      return entry;
    },
  );

  app.get(
    '/ops/sales-dashboard',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: 'Sales per day and product (from the sales-dashboard read model)',
        querystring: Type.Object({
          days: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1 to 999, default 7' })),
        }),
      },
    },
    async (request) => {
      const rows = await readSalesDashboard(pool, Number(request.query.days ?? 7));
      // Orders are counted per product line (an order of two products counts in both rows).
      const totals = { units: 0, revenueCents: 0 };
      for (const row of rows) {
        totals.units += row.units;
        totals.revenueCents += row.revenueCents;
      }
      return { days: rows, totals };
    },
  );
};
