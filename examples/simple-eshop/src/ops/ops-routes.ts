// The operator's view of the patterns at work: breakers, limiters, bulkheads, outbox lag, queue
// depth, dead letters (list, replay, purge), orchestrated sagas beside choreographed flows, and
// the read models' projections with their lag. Admin only.
import type { DeadLetterQueue } from '@bulwark/messaging';
import type { PostgresOutbox } from '@bulwark/messaging/postgres';
import type { BulkheadSnapshot, CacheSnapshot, CircuitBreakerSnapshot } from '@bulwark/resilience';
import type { SagaLog, SagaOrchestrator, SagaStatus } from '@bulwark/saga';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { requireAdmin } from '../http/auth.js';
import type { ProjectionStatus } from '../read-models/read-model-runners.js';
import type { LoginLimiterCounters } from '../users/login-limiter.js';
import { readProcessStatuses } from './process-status.js';

/** What each process reports of its patterns (see `publishProcessStatus`). */
export interface PatternStatus {
  breakers: Array<CircuitBreakerSnapshot>;
  bulkheads: Array<{ name: string } & BulkheadSnapshot>;
  limiters: Array<{ name: string; limit: number } & Partial<LoginLimiterCounters>>;
  /** Hits, misses and stale answers of the caches (optional: older processes do not report it). */
  caches?: Array<CacheSnapshot>;
  /** The projections this process runs (leader or standby), with their lag. */
  projections?: Array<ProjectionStatus>;
}

export interface OpsOptions {
  pool: pg.Pool;
  /** This process: its own entry is read live rather than from the table. */
  self: { processId: string; role: string; status: () => PatternStatus };
  outbox: PostgresOutbox;
  deadLetters: DeadLetterQueue;
  sagas: Pick<SagaOrchestrator, 'counts' | 'list' | 'history'>;
  /** The choreography tracker's log: the choreographed flows (shipping, notification). */
  flows: Pick<SagaLog, 'counts' | 'list' | 'history'>;
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
  const { outbox, deadLetters, sagas } = options;
  const severity: Record<string, number> = { open: 3, 'half-open': 2, isolated: 1, closed: 0 };

  app.get(
    '/ops/status',
    { preHandler: requireAdmin, schema: { tags: ['ops'], summary: 'Every pattern at a glance' } },
    async () => {
      const [lag, queues, dlq, sagaCounts, processes, flowCounts] = await Promise.all([
        outbox.lag(),
        options.queueDepth(),
        deadLetters.list({ limit: 1_000 }),
        sagas.counts(),
        readProcessStatuses<PatternStatus>(options.pool),
        options.flows.counts(),
      ]).then(([lagNow, queueDepth, letters, counts, others, flowsNow]) => {
        const { self } = options;
        const live = {
          processId: self.processId,
          role: self.role,
          status: self.status(),
          updatedAt: new Date().toISOString(),
        };
        return [
          lagNow,
          queueDepth,
          letters,
          counts,
          [live, ...others.filter((row) => row.processId !== self.processId)],
          flowsNow,
        ] as const;
      });
      const dlqByTopic: Record<string, number> = {};
      for (const letter of dlq) dlqByTopic[letter.originalTopic] = (dlqByTopic[letter.originalTopic] ?? 0) + 1;
      return {
        backends: options.backends,
        // Every process's view, the most alarming first: the payment breaker that matters is the
        // one in the process that calls payments (the orders role), not the API's idle one.
        breakers: processes
          .flatMap(({ processId, role, status }) => status.breakers.map((breaker) => ({ ...breaker, processId, role })))
          .sort((a, b) => (severity[b.state] ?? 0) - (severity[a.state] ?? 0) || b.calls - a.calls),
        bulkheads: processes
          .flatMap(({ processId, role, status }) =>
            status.bulkheads.map((bulkhead) => ({ ...bulkhead, processId, role })),
          )
          .sort((a, b) => b.running + b.queued - (a.running + a.queued)),
        limiters: processes.flatMap(({ processId, role, status }) =>
          status.limiters.map((limiter) => ({ ...limiter, processId, role })),
        ),
        caches: processes.flatMap(({ processId, role, status }) =>
          (status.caches ?? []).map((cache) => ({ ...cache, processId, role })),
        ),
        // The leader of each projection first: it is the one applying events and counting the lag.
        projections: processes
          .flatMap(({ processId, role, status }) =>
            (status.projections ?? []).map((projection) => ({ ...projection, processId, role })),
          )
          .sort(
            (a, b) => a.name.localeCompare(b.name) || Number(b.state === 'running') - Number(a.state === 'running'),
          ),
        processes: processes.map(({ processId, role, updatedAt }) => ({ processId, role, updatedAt })),
        outbox: lag,
        queues,
        deadLetters: { total: dlq.length, byTopic: dlqByTopic },
        sagas: sagaCounts,
        flows: flowCounts,
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

  // Orchestrated runs and choreographed flows are listed the same way, from their logs.
  const listRuns = (path: string, summary: string, log: Pick<SagaLog, 'list' | 'history'>) =>
    app.get(
      path,
      {
        preHandler: requireAdmin,
        schema: {
          tags: ['ops'],
          summary,
          querystring: Type.Object({
            status: Type.Optional(Type.Union(sagaStatuses.map((status) => Type.Literal(status)))),
            limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]?$|^100$', description: '1 to 100' })),
          }),
        },
      },
      async (request) => {
        const runs = await log.list({
          ...(request.query.status ? { status: request.query.status as SagaStatus } : {}),
          limit: Number(request.query.limit ?? 20),
        });
        return Promise.all(
          runs.map(async (run) => ({
            id: run.id,
            saga: run.name,
            status: run.status,
            updatedAt: new Date(run.updatedAt).toISOString(),
            timeline: (await log.history(run.id)).map((entry) => ({
              at: new Date(entry.at).toISOString(),
              kind: entry.kind,
              step: entry.step ?? null,
            })),
          })),
        );
      },
    );
  listRuns('/ops/sagas', 'Saga runs by status, with timelines', sagas);
  listRuns('/ops/flows', 'Choreographed flows (shipping, notification) by status, with timelines', options.flows);
};
