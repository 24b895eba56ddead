// The operator's view of the patterns at work: breakers, limiters, bulkheads, outbox lag, queue
// depth, dead letters (list, replay, purge) and sagas. Admin only.
import type { DeadLetterQueue } from '@bulwark/messaging';
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import type { SagaOrchestrator, SagaStatus } from '@bulwark/saga';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireAdmin } from '../http/auth.js';
import type { PaymentGateway } from '../payments/payment-gateway.js';
import type { LoginLimiter } from '../users/login-limiter.js';

export interface OpsOptions {
  payments: PaymentGateway;
  logins: LoginLimiter;
  outbox: PostgresOutbox;
  deadLetters: DeadLetterQueue;
  sagas: Pick<SagaOrchestrator, 'counts' | 'list' | 'history'>;
  /** Messages waiting per consumer group, where the transport can tell. */
  queueDepth: () => Promise<Record<string, number>>;
  backends: Record<string, string>;
}

const sagaStatuses = ['running', 'compensating', 'completed', 'compensated', 'failed'] as const;
const Selection = Type.Object(
  {
    ids: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 1_000 })),
    topic: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const opsRoutes: FastifyPluginAsyncTypebox<OpsOptions> = async (app, options) => {
  const { payments, outbox, deadLetters, sagas } = options;

  app.get(
    '/ops/status',
    { preHandler: requireAdmin, schema: { tags: ['ops'], summary: 'Every pattern at a glance' } },
    async () => {
      const [lag, queues, dlq, sagaCounts] = await Promise.all([
        outbox.lag(),
        options.queueDepth(),
        deadLetters.list({ limit: 1_000 }),
        sagas.counts(),
      ]);
      const dlqByTopic: Record<string, number> = {};
      for (const letter of dlq) dlqByTopic[letter.originalTopic] = (dlqByTopic[letter.originalTopic] ?? 0) + 1;
      return {
        backends: options.backends,
        breakers: [payments.breaker.snapshot()],
        bulkheads: [{ name: 'payments', ...payments.bulkhead.snapshot() }],
        limiters: [{ name: 'login-failures', limit: options.logins.limiter.algorithm.limit }],
        outbox: lag,
        queues,
        deadLetters: { total: dlq.length, byTopic: dlqByTopic },
        sagas: sagaCounts,
      };
    },
  );

  app.get(
    '/ops/dlq',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: 'Dead letters, oldest first',
        querystring: Type.Object({ topic: Type.Optional(Type.String({ maxLength: 200 })) }),
      },
    },
    async (request) =>
      (
        await deadLetters.list({ limit: 200, ...(request.query.topic ? { originalTopic: request.query.topic } : {}) })
      ).map((letter) => ({
        id: letter.message.id,
        type: letter.message.type,
        originalTopic: letter.originalTopic,
        storedAt: new Date(letter.storedAt).toISOString(),
        headers: letter.message.headers,
      })),
  );

  const selection = (body: { ids?: string[]; topic?: string } | undefined) => ({
    ...(body?.ids ? { ids: body.ids } : {}),
    ...(body?.topic ? { originalTopic: body.topic } : {}),
  });
  app.post(
    '/ops/dlq/replay',
    {
      preHandler: requireAdmin,
      schema: { tags: ['ops'], summary: 'Replay dead letters to their topic', body: Type.Optional(Selection) },
    },
    async (request) => ({
      replayed: await deadLetters.replay(selection(request.body)),
    }),
  );
  app.post(
    '/ops/dlq/purge',
    {
      preHandler: requireAdmin,
      schema: { tags: ['ops'], summary: 'Delete dead letters for good', body: Type.Optional(Selection) },
    },
    async (request) => ({
      purged: await deadLetters.purge(selection(request.body)),
    }),
  );

  app.get(
    '/ops/sagas',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: 'Saga runs by status, with timelines',
        querystring: Type.Object({
          status: Type.Optional(Type.Union(sagaStatuses.map((status) => Type.Literal(status)))),
          limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]?$|^100$', description: '1 to 100' })),
        }),
      },
    },
    async (request) => {
      const runs = await sagas.list({
        ...(request.query.status ? { status: request.query.status as SagaStatus } : {}),
        limit: Number(request.query.limit ?? 20),
      });
      return Promise.all(
        runs.map(async (run) => ({
          id: run.id,
          saga: run.name,
          status: run.status,
          updatedAt: new Date(run.updatedAt).toISOString(),
          timeline: (await sagas.history(run.id)).map((entry) => ({
            at: new Date(entry.at).toISOString(),
            kind: entry.kind,
            step: entry.step ?? null,
          })),
        })),
      );
    },
  );
};
