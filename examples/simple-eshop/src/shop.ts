// Assembles a running shop from its configuration: the database, the Bulwark adapters, the API
// and the workers its role asks for. `main.ts` runs it; tests start it on a random port.
//
// Roles: `all` runs everything in one process; `api`, `orders` (order sagas, the read models'
// projections, the shipping participant and the choreography tracker), `email` (emails and the
// notification participants), `relay` (outbox → transport) and `payment` (the provider
// simulator) run one part each, several
// processes of each if you like: all their state is in PostgreSQL (and Redis/RabbitMQ/S3 when
// configured), none in the process. Every role serves /health/* and /metrics.
import { asyncReply, createEnvelope, deadLetterQueue } from '@bulwark/messaging';
import { postgresAsyncReplyStore, postgresDeadLetterStore, postgresInbox } from '@bulwark/messaging/postgres';
import type { RateLimitStore } from '@bulwark/resilience';
import { postgresRateLimitStore } from '@bulwark/resilience/postgres';
import { choreographyTracker, type RunningParticipant, sagaOrchestrator, startParticipant } from '@bulwark/saga';
import { postgresParticipantStore, postgresSagaLog } from '@bulwark/saga/postgres';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { buildApp } from './app.js';
import { invalidateCatalogOnEvents, openCatalogCache } from './catalog/catalog-cache.js';
import { seedCatalog } from './catalog/seed-products.js';
import type { Role, ShopConfig } from './config.js';
import { type EmailSender, mailboxSender, smtpSender } from './email/email-sender.js';
import { startEmailWorker, usersTopic } from './email/email-worker.js';
import { type Faults, postgresFaults } from './faults/faults.js';
import { choreographyLogTable, fulfilmentFlows } from './fulfilment/fulfilment-flows.js';
import { reportStalledFlows } from './fulfilment/stalled-flow-alerts.js';
import { databaseReadiness, redisReadiness } from './health/readiness-checks.js';
import { openDatabase } from './infrastructure/database.js';
import { deadLetterTopic, openMessaging } from './infrastructure/messaging.js';
import { migrateShop } from './infrastructure/migrate.js';
import { shutdownSteps } from './infrastructure/shutdown-steps.js';
import { shopLogger } from './logging/shop-logger.js';
import type { PatternStatus } from './ops/ops-routes.js';
import { publishProcessStatus } from './ops/process-status.js';
import { orderSaga } from './orders/order-saga.js';
import { startOrderWorker } from './orders/order-worker.js';
import { type PaymentGateway, paymentGateway } from './payments/payment-gateway.js';
import { paymentProviderClient } from './payments/payment-http.js';
import { paymentSimulator } from './payments/payment-simulator.js';
import { migrateReadModels, type ReadModelRunners, startReadModels } from './read-models/read-model-runners.js';
import { handleSalesReports } from './reports/sales-report.js';
import { registerHttpTelemetry } from './telemetry/http-telemetry.js';
import { observeShop } from './telemetry/shop-instruments.js';
import { startTelemetry } from './telemetry/telemetry-sdk.js';
import { loginLimit, loginLimiter } from './users/login-limiter.js';
import { ensureAdmin } from './users/users-routes.js';

export interface RunningShop {
  readonly url: string;
  readonly pool: pg.Pool;
  readonly app: FastifyInstance;
  readonly admin: { email: string; password: string };
  readonly faults: Faults;
  readonly payments: PaymentGateway;
  close(): Promise<void>;
}

export const defaultAdmin = { email: 'admin@shop.local', password: 'admin-password' };

const runs = (config: ShopConfig, role: Exclude<Role, 'all'>) => config.role === 'all' || config.role === role;

export async function startShop(config: ShopConfig, env: NodeJS.ProcessEnv = process.env): Promise<RunningShop> {
  // First: the Bulwark packages find the SDK's providers when their policies and adapters are made.
  const telemetry = startTelemetry({ env });
  const logger = shopLogger(config);
  // An idle pooled connection that breaks (a server restart, a terminated backend) is dropped by
  // the pool and reported here; the next query connects anew.
  const database = await openDatabase(config, (error) => logger.warn({ err: error }, 'database connection lost'));
  const steps = shutdownSteps();
  steps.add('database pool', () => database.close());
  const close = () =>
    steps.closeAll({
      slow: (step, elapsedMs) => logger.warn({ step, elapsedMs }, 'shutdown: a step is still closing'),
      failed: (step, error) => logger.warn({ step, err: error }, 'shutdown: a step failed to close'),
    });
  try {
    const { pool } = database;
    await migrateShop(pool);
    await seedCatalog(pool);
    const admin = {
      email: env.ADMIN_EMAIL ?? defaultAdmin.email,
      password: env.ADMIN_PASSWORD ?? defaultAdmin.password,
    };
    await ensureAdmin(pool, admin.email, admin.password);

    let redis: Redis | undefined;
    if (config.redisUrl) {
      const { Redis: RedisClient } = await import('ioredis');
      redis = new RedisClient(config.redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: true });
      const client = redis;
      steps.add('redis client', async () => client.disconnect());
    }
    const messaging = await openMessaging(config, pool, redis);
    steps.add('messaging', () => messaging.close());
    const catalog = await openCatalogCache(redis, config.namespace, config.catalogTtlMs);
    steps.add('catalog cache', () => catalog.close());

    let rateLimitStore: RateLimitStore;
    if (redis) {
      const { redisRateLimitStore } = await import('@bulwark/resilience/redis');
      rateLimitStore = redisRateLimitStore(redis, { prefix: `${config.namespace}:rate:` });
    } else {
      const store = postgresRateLimitStore(pool, { table: 'eshop_rate_limits' });
      await store.migrate();
      rateLimitStore = store;
    }
    const logins = loginLimiter(rateLimitStore, { failuresPerIp: config.loginFailuresPerIp });
    steps.add('login limiter', () => logins.close());

    const faults: Faults = postgresFaults(pool);
    const simulator = paymentSimulator(pool, faults);
    // With PAYMENT_URL the provider is a separate process (`--role payment`), reached over HTTP.
    // With Redis, the payment breakers of every process share one state (open in one process,
    // fail fast in all); without it each process keeps its own.
    const breakerStore = redis
      ? (await import('@bulwark/resilience/redis')).redisCircuitStateStore(redis, {
          prefix: `${config.namespace}:circuit:`,
        })
      : undefined;
    const payments = paymentGateway(config.paymentUrl ? paymentProviderClient(config.paymentUrl) : simulator, {
      halfOpenAfterMs: config.breakerHalfOpenMs,
      ...(breakerStore ? { store: breakerStore } : {}),
    });
    // The read models' projections run in the orders role (one leader per projection across its
    // processes); the API only queries their tables, created here so it can before any led.
    await migrateReadModels(pool);
    let readModels: ReadModelRunners | undefined;
    if (runs(config, 'orders')) {
      const runners = startReadModels(messaging.eventLog);
      readModels = runners;
      steps.add('read models', () => runners.close());
    }
    const patternStatus = (): PatternStatus => ({
      breakers: [payments.breaker.snapshot()],
      bulkheads: [{ name: 'payments', ...payments.bulkhead.snapshot() }],
      limiters: [{ name: 'login-failures', limit: loginLimit.failures, ...logins.counters }],
      caches: [catalog.cache.snapshot()],
      ...(readModels ? { projections: readModels.status() } : {}),
    });
    const processStatus = publishProcessStatus<PatternStatus>(pool, {
      role: config.role,
      snapshot: patternStatus,
      onError: (error) => logger.warn({ err: error }, 'process status not written'),
    });
    steps.add('process status', () => processStatus.close());
    const email: EmailSender = config.smtpUrl ? await smtpSender(config.smtpUrl) : mailboxSender(pool, faults);

    const sagaLog = postgresSagaLog(pool, { table: 'eshop_saga_log' });
    await sagaLog.migrate();
    const saga = orderSaga({ pool, payments, outbox: messaging.outbox });
    // Only the orders role drives sagas; the API reads their timelines from the same log.
    const sagas = sagaOrchestrator({
      log: sagaLog,
      sagas: [saga],
      recoverEveryMs: runs(config, 'orders') ? 2_000 : false,
      leaseMs: 15_000,
      heartbeatMs: 5_000,
      // Refunds and voids go through the payment breaker: while it is open they fail fast, so
      // they are retried for about 3 minutes (an outage, then the breaker's probe) before the
      // saga is left `failed` for an operator. Five quick tries would give up inside one outage
      // and leave the stock reserved.
      compensationRetry: { maxAttempts: 40, initialDelayMs: 200, maxDelayMs: 5_000, factor: 2 },
    });
    steps.add('saga orchestrator', () => sagas.close());

    if (runs(config, 'orders')) {
      const worker = await startOrderWorker({
        pool,
        transport: messaging.transport,
        claimCheck: messaging.claimCheck,
        sagas,
        saga,
        outbox: messaging.outbox,
        log: logger,
      });
      steps.add('order worker', () => worker.close());
      await sagas.recover();
    }
    // Reports run in this process in `all`; spread over processes, the orders role runs them.
    const reportStore = postgresAsyncReplyStore(pool, { table: 'eshop_operations' });
    await reportStore.migrate();
    const reports = asyncReply({
      store: reportStore,
      claimCheck: messaging.claimCheck,
      ...(config.role === 'all' ? {} : { transport: messaging.transport }),
      statusUrl: (id) => `/api/reports/${id}`,
    });
    handleSalesReports(reports, pool);
    steps.add('reports', () => reports.close());
    if (config.role === 'orders') await reports.worker();

    if (runs(config, 'email')) {
      const worker = await startEmailWorker({
        transport: messaging.transport,
        sender: email,
        claimCheck: messaging.claimCheck,
        inbox: messaging.idempotencyStore,
        retryDelaysMs: config.retryDelaysMs,
      });
      steps.add('email worker', () => worker.close());
    }
    // Shipping and notification are choreographed after the order saga: each reacts to an event
    // and emits the next through the outbox, in its own transaction, deduplicated by the inbox.
    const flowLog = postgresSagaLog(pool, { table: choreographyLogTable });
    await flowLog.migrate();
    const fulfilment = fulfilmentFlows(email, { stallAfterMs: config.flowStallMs });
    const inbox = postgresInbox(pool, { table: 'eshop_inbox' });
    await inbox.migrate();
    const participantStore = postgresParticipantStore({ inbox, outbox: messaging.outbox });
    const participantConsume = { retry: config.retryDelaysMs, deadLetter: deadLetterTopic };
    const participants: RunningParticipant[] = [];
    steps.add('choreography participants', async () => {
      for (const participant of participants) await participant.close();
    });
    if (runs(config, 'orders')) {
      participants.push(
        await startParticipant(messaging.transport, fulfilment.shipping, {
          store: participantStore,
          consume: participantConsume,
        }),
      );
      const alerts = await reportStalledFlows(messaging.transport, fulfilment.flows, logger);
      steps.add('stalled flow alerts', () => alerts.close());
      // The tracker records each flow in its log and raises `<flow>.timed-out` when one stalls.
      const tracker = choreographyTracker({ log: flowLog, transport: messaging.transport, flows: fulfilment.flows });
      await tracker.start();
      steps.add('choreography tracker', () => tracker.close());
    }
    if (runs(config, 'email')) {
      const options = { store: participantStore, consume: participantConsume };
      participants.push(await startParticipant(messaging.transport, fulfilment.notifyShipped, options));
      participants.push(await startParticipant(messaging.transport, fulfilment.notifyCancelled, options));
    }

    if (runs(config, 'relay')) {
      const relay = messaging.outbox.relay({
        transport: messaging.transport,
        claimCheck: messaging.claimCheck,
        batchSize: 200,
      });
      steps.add('outbox relay', () => relay.close());
    }

    const deadLetterStore = postgresDeadLetterStore(pool, { table: 'eshop_dead_letters' });
    await deadLetterStore.migrate();
    const deadLetters = await deadLetterQueue(messaging.transport, { topic: deadLetterTopic, store: deadLetterStore });
    steps.add('dead letters', () => deadLetters.close());

    const unobserve = observeShop({ pool, outbox: messaging.outbox, sagas, queueDepth: () => messaging.queueDepth() });
    steps.add('shop instruments', async () => unobserve());
    const sink = { pool, role: config.role, processId: processStatus.processId };
    const removeSpanSink = telemetry.addSpanSink(sink);
    const removeRouteSink = telemetry.addRouteSampleSink(sink);
    // Steps close in reverse: these close after every worker has closed (so their last spans are
    // written) and just before the database closes.
    steps.insert(1, 'span sink', removeSpanSink);
    steps.insert(2, 'route sample sink', removeRouteSink);
    const serveApi = runs(config, 'api');
    if (serveApi) {
      const invalidation = await invalidateCatalogOnEvents(messaging.transport, catalog.cache);
      steps.add('catalog invalidation', () => invalidation.close());
    }
    const app = await buildApp({
      config,
      logger,
      prometheusText: () => telemetry.prometheusText(),
      readiness: {
        database: databaseReadiness(pool),
        ...(redis ? { redis: redisReadiness(redis) } : {}),
        transport: messaging.transportReadiness,
      },
      hooks: [registerHttpTelemetry],
      ...(serveApi
        ? {
            api: {
              pool,
              catalogCache: catalog.cache,
              users: {
                limitLogin: (attempt) => logins.check(attempt),
                onLoginResult: async (attempt) => {
                  if (!attempt.succeeded) await logins.recordFailure(attempt);
                },
                onRegistered: (client, user) =>
                  messaging.outbox.add(
                    client,
                    createEnvelope({
                      topic: usersTopic,
                      type: 'user.registered',
                      key: user.id,
                      payload: { userId: user.id, username: user.username, email: user.email },
                    }),
                  ),
              },
              idempotencyStore: messaging.idempotencyStore,
              orders: { outbox: messaging.outbox, sagas },
              faults,
              reports,
              ops: {
                self: { processId: processStatus.processId, role: config.role, status: patternStatus },
                outbox: messaging.outbox,
                deadLetters,
                sagas,
                flows: flowLog,
                queueDepth: () => messaging.queueDepth(),
                backends: messaging.backends,
              },
            },
          }
        : {}),
      // The simulated provider's own endpoints, served by `--role payment` (and by `all`).
      ...(runs(config, 'payment') ? { paymentProvider: simulator } : {}),
    });
    steps.add('http server', () => app.close());
    const address = await app.listen({ port: config.port, host: config.host });
    return { url: address.replace('[::1]', 'localhost'), pool, app, admin, faults, payments, close };
  } catch (error) {
    await close();
    throw error;
  }
}
