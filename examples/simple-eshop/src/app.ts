// Builds the shop's HTTP server, and is the one place its routes are registered. Every role serves
// /health/* and /metrics; the parts present in `ShopServices` decide the rest: `api` brings the
// shop's API, web page and ops view, `paymentProvider` the simulated provider's endpoints. So a
// process runs exactly the routes of its role (`email` answers 404 on /api/catalog).
import type { AsyncReply, IdempotencyStore } from '@bulwark/messaging';
import { idempotencyKeyPlugin } from '@bulwark/messaging/fastify';
import type { Cache } from '@bulwark/resilience';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import ajvFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type pg from 'pg';
import { cartRoutes } from './cart/cart-routes.js';
import { catalogRoutes } from './catalog/catalog-routes.js';
import type { ShopConfig } from './config.js';
import type { Faults } from './faults/faults.js';
import { healthRoutes, type ReadinessCheck } from './health/health-routes.js';
import { registerAuth } from './http/auth.js';
import { closeKeepAliveOnClose } from './http/close-keep-alive-on-close.js';
import { registerProblemHandlers, sendProblem } from './http/problem.js';
import { registerStorableInput } from './http/storable-input.js';
import { registerWebPage } from './http/web-page.js';
import { faultsRoutes } from './ops/faults-routes.js';
import { type OpsOptions, opsRoutes } from './ops/ops-routes.js';
import { telemetryRoutes } from './ops/telemetry-routes.js';
import { type OrdersRoutesOptions, ordersRoutes } from './orders/orders-routes.js';
import { paymentProviderRoutes } from './payments/payment-http.js';
import type { PaymentProvider } from './payments/payment-provider.js';
import { readModelRoutes } from './read-models/read-model-routes.js';
import { reportsRoutes } from './reports/sales-report.js';
import { type UsersOptions, usersRoutes } from './users/users-routes.js';

/** What the API routes (`--role api` and `all`) read and write. */
export interface ApiServices {
  pool: pg.Pool;
  /** The catalog's read-through cache. */
  catalogCache: Cache;
  users?: Omit<UsersOptions, 'pool'>;
  /** Keeps the responses of `Idempotency-Key` requests. */
  idempotencyStore: IdempotencyStore;
  orders: Omit<OrdersRoutesOptions, 'pool'>;
  faults: Faults;
  reports: AsyncReply;
  ops: Omit<OpsOptions, 'pool'>;
}

export interface ShopServices {
  config: ShopConfig;
  /** Shared by the API and the workers; passwords and tokens are redacted. */
  logger: FastifyBaseLogger;
  /** The instruments' current values as Prometheus text, served at /metrics. */
  prometheusText: () => Promise<string>;
  readiness: Record<string, ReadinessCheck>;
  /** Present in the roles that serve the shop's API, web page and ops view. */
  api?: ApiServices;
  /** Present in the roles that serve the simulated payment provider (`payment` and `all`). */
  paymentProvider?: PaymentProvider;
  /** Registered on every role before the routes (request metrics, say). */
  hooks?: Array<(app: FastifyInstance) => void>;
}

// ajv-formats types its options more narrowly than Fastify's plugin slot expects.
const ajvPlugins = [ajvFormats] as unknown as NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>;

/** Request bodies above this are refused with 413. */
export const bodyLimitBytes = 256 * 1024;

export async function buildApp(services: ShopServices): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: bodyLimitBytes,
    loggerInstance: services.logger,
    // Errors Fastify raises before routing (a malformed URL, say) are problems too.
    frameworkErrors: (error, _request, reply) => {
      sendProblem(reply, { title: 'Bad Request', status: 400, detail: error.message });
    },
    genReqId: (request) => (request.headers['x-correlation-id'] as string | undefined) ?? crypto.randomUUID(),
    requestIdHeader: 'x-correlation-id',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true }, plugins: ajvPlugins },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const { api } = services;
  registerProblemHandlers(app, api ? await registerWebPage(app) : () => undefined);
  registerStorableInput(app);
  closeKeepAliveOnClose(app);
  for (const hook of services.hooks ?? []) hook(app);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'simple-eshop', version: '0.1.0', description: 'The Bulwark reference shop.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  await registerAuth(app, services.config.jwtSecret);
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes, { checks: services.readiness, prometheusText: services.prometheusText });
  if (api) {
    const { pool } = api;
    await app.register(idempotencyKeyPlugin, {
      store: api.idempotencyStore,
      // Keys are per user, so one user can never receive another's stored response.
      scope: async (request) => {
        await request.jwtVerify();
        return request.user.sub;
      },
    });
    await app.register(usersRoutes, { pool, ...api.users });
    await app.register(catalogRoutes, { pool, cache: api.catalogCache });
    await app.register(cartRoutes, { pool });
    await app.register(ordersRoutes, { pool, ...api.orders });
    await app.register(readModelRoutes, { pool });
    await app.register(faultsRoutes, { pool, faults: api.faults });
    await app.register(reportsRoutes, { reply: api.reports });
    await app.register(opsRoutes, { pool, ...api.ops });
    await app.register(telemetryRoutes, { pool });
  }
  if (services.paymentProvider) await paymentProviderRoutes(app, services.paymentProvider);
  return app;
}
