// The ops view's traces and route charts: an order's trace as every process recorded it (from the
// span store), and per route request rate, latency, error rate and availability over time (from
// the route samples of `http.server.request.duration`). Admin only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { requireAdmin } from '../http/auth.js';
import { routeSeries } from '../telemetry/route-samples.js';
import { orderTrace, tracedOrders } from '../telemetry/span-store.js';

export const telemetryRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    '/ops/traces',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: 'Orders whose traces are kept (the last hour), the latest first',
        querystring: Type.Object({
          limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]?$|^100$', description: '1 to 100' })),
        }),
      },
    },
    async (request) => tracedOrders(pool, Number(request.query.limit ?? 20)),
  );

  app.get(
    '/ops/traces/:orderId',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: "An order's trace: every span of every process, in start order",
        params: Type.Object({ orderId: Type.String({ minLength: 1, maxLength: 100 }) }),
      },
    },
    async (request) => ({ orderId: request.params.orderId, spans: await orderTrace(pool, request.params.orderId) }),
  );

  app.get(
    '/ops/routes',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: 'Per route: request rate, p50/p99 latency, error rate and availability over time',
        querystring: Type.Object({
          minutes: Type.Optional(Type.String({ pattern: '^([1-9]|[1-5][0-9]|60)$', description: '1 to 60' })),
          slotSeconds: Type.Optional(
            Type.String({ pattern: '^([5-9]|[1-9][0-9]|[1-5][0-9]{2}|600)$', description: '5 to 600' }),
          ),
        }),
      },
    },
    async (request) => {
      const minutes = Number(request.query.minutes ?? 15);
      const slotSeconds = Number(request.query.slotSeconds ?? 10);
      return { minutes, slotSeconds, routes: await routeSeries(pool, { minutes, slotSeconds }) };
    },
  );
};
