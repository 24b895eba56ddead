// Assembles a running shop from its configuration: the database, the Bulwark adapters, the API
// and the workers its role asks for. `main.ts` runs it; tests start it on a random port.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { buildApp } from './app.js';
import { seedCatalog } from './catalog/seed-products.js';
import type { ShopConfig } from './config.js';
import { type EmailSender, mailboxSender, smtpSender } from './email/email-sender.js';
import { type Faults, postgresFaults } from './faults/faults.js';
import { openDatabase } from './infrastructure/database.js';
import { migrateShop } from './infrastructure/migrate.js';
import { faultsRoutes } from './ops/faults-routes.js';
import { paymentProviderClient, paymentProviderRoutes } from './payments/payment-http.js';
import type { PaymentProvider } from './payments/payment-provider.js';
import { paymentSimulator } from './payments/payment-simulator.js';
import { ensureAdmin } from './users/users-routes.js';

export interface RunningShop {
  readonly url: string;
  readonly pool: pg.Pool;
  readonly app: FastifyInstance;
  readonly admin: { email: string; password: string };
  close(): Promise<void>;
}

export const defaultAdmin = { email: 'admin@shop.local', password: 'admin-password' };

export async function startShop(config: ShopConfig, env: NodeJS.ProcessEnv = process.env): Promise<RunningShop> {
  const database = await openDatabase(config);
  const closers: Array<() => Promise<void>> = [() => database.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer().catch(() => {});
  };
  try {
    await migrateShop(database.pool);
    await seedCatalog(database.pool);
    const admin = {
      email: env.ADMIN_EMAIL ?? defaultAdmin.email,
      password: env.ADMIN_PASSWORD ?? defaultAdmin.password,
    };
    await ensureAdmin(database.pool, admin.email, admin.password);

    const faults: Faults = postgresFaults(database.pool);
    const simulator = paymentSimulator(database.pool, faults);
    // With PAYMENT_URL the provider is a separate process (`--role payment`), reached over HTTP.
    const payments: PaymentProvider = config.paymentUrl ? paymentProviderClient(config.paymentUrl) : simulator;
    const email: EmailSender = config.smtpUrl ? await smtpSender(config.smtpUrl) : mailboxSender(database.pool, faults);
    void payments;
    void email;

    const metrics = new Registry();
    collectDefaultMetrics({ register: metrics });
    const app = await buildApp({
      config,
      pool: database.pool,
      metrics,
      readiness: {
        database: async () => {
          await database.pool.query('SELECT 1');
        },
      },
      plugins: [
        async (instance) => {
          await instance.register(faultsRoutes, { faults, pool: database.pool });
        },
        // The simulated provider's own endpoints, served by `--role payment` (and by `all`).
        async (instance) => {
          if (config.role === 'payment' || config.role === 'all') await paymentProviderRoutes(instance, simulator);
        },
      ],
    });
    closers.push(() => app.close());
    const address = await app.listen({ port: config.port, host: config.host });
    return { url: address.replace('[::1]', 'localhost'), pool: database.pool, app, admin, close };
  } catch (error) {
    await close();
    throw error;
  }
}
