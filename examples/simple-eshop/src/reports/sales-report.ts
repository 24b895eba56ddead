// A sales report, computed in the background through async reply: POST answers 202 with a status
// URL at once; the report (big: one line per product) is kept through the claim check.
import type { AsyncReply } from '@bulwark/messaging';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { requireAdmin } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';

export const salesReportKind = 'sales-report';

export interface SalesReport {
  generatedAt: string;
  orders: { confirmed: number; cancelled: number; pending: number };
  revenueCents: number;
  products: Array<{ id: string; name: string; sold: number; reserved: number; stock: number; revenueCents: number }>;
}

export async function computeSalesReport(pool: pg.Pool): Promise<SalesReport> {
  const orders = await pool.query<{ status: 'confirmed' | 'cancelled' | 'pending'; n: number; cents: string | null }>(
    'SELECT status, count(*)::int AS n, sum(total_cents) AS cents FROM shop_orders GROUP BY status',
  );
  const counts = { confirmed: 0, cancelled: 0, pending: 0 };
  let revenueCents = 0;
  for (const row of orders.rows) {
    counts[row.status] = row.n;
    if (row.status === 'confirmed') revenueCents = Number(row.cents ?? 0);
  }
  const products = await pool.query(
    `SELECT id, name, sold, reserved, stock, sold * price_cents AS "revenueCents" FROM shop_products ORDER BY sold DESC, name`,
  );
  return { generatedAt: new Date().toISOString(), orders: counts, revenueCents, products: products.rows };
}

/** Registers the report's handler on an async reply (in-process, or on the worker that runs it). */
export function handleSalesReports(reply: AsyncReply, pool: pg.Pool): void {
  reply.handle(salesReportKind, () => computeSalesReport(pool));
}

export const reportsRoutes: FastifyPluginAsyncTypebox<{ reply: AsyncReply }> = async (app, { reply }) => {
  app.post(
    '/api/reports',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['reports'],
        summary: 'Start a sales report (admin); 202 with a status URL',
        security: [{ bearer: [] }],
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
      },
    },
    async (_request, response) => {
      const accepted = await reply.accept(salesReportKind, {});
      return response.code(202).header('location', accepted.statusUrl).send(accepted);
    },
  );

  app.get(
    '/api/reports/:id',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['reports'],
        summary: 'A report: pending, running, succeeded (with the report) or failed',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
      },
    },
    async (request) => {
      const state = await reply.status(request.params.id);
      if (!state)
        throw new HttpProblem(404, 'Not Found', `No report "${request.params.id}" (reports expire after a day).`);
      return state;
    },
  );
};
