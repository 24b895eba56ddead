// Builds the shop's HTTP API. Everything it needs arrives in `ShopServices`, so tests and every
// run mode (`--role all|api|…`) assemble the same app from different parts.
import type { Cache } from '@bulwark/resilience';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import ajvFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { cartRoutes } from './cart/cart-routes.js';
import { catalogRoutes } from './catalog/catalog-routes.js';
import type { ShopConfig } from './config.js';
import { healthRoutes, type ReadinessCheck } from './health/health-routes.js';
import { registerAuth } from './http/auth.js';
import { registerProblemHandlers, sendProblem } from './http/problem.js';
import { registerStorableInput } from './http/storable-input.js';
import { registerWebPage } from './http/web-page.js';
import { type UsersOptions, usersRoutes } from './users/users-routes.js';

export interface ShopServices {
  config: ShopConfig;
  /** Shared by the API and the workers; passwords and tokens are redacted. */
  logger: FastifyBaseLogger;
  pool: pg.Pool;
  /** The catalog's read-through cache. */
  catalogCache: Cache;
  metrics: Registry;
  readiness: Record<string, ReadinessCheck>;
  users?: Omit<UsersOptions, 'pool'>;
  /** Further routes (orders, ops, …) registered by the parts the shop is assembled from. */
  plugins?: Array<(app: FastifyInstance) => Promise<void>>;
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

  registerProblemHandlers(app, await registerWebPage(app));
  registerStorableInput(app);
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

  await app.register(usersRoutes, { pool: services.pool, ...services.users });
  await app.register(catalogRoutes, { pool: services.pool, cache: services.catalogCache });
  await app.register(cartRoutes, { pool: services.pool });
  await app.register(healthRoutes, { checks: services.readiness, metrics: services.metrics });
  for (const plugin of services.plugins ?? []) await plugin(app);
  return app;
}
