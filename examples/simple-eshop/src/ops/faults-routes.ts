import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { listMailbox } from '../email/email-sender.js';
import { type Faults, type FaultTarget, faultScenarios } from '../faults/faults.js';
import { requireAdmin } from '../http/auth.js';
import { HttpProblem } from '../http/problem.js';

const Settings = Type.Object(
  {
    declineRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    errorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
    down: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const FaultChange = Type.Union([
  Type.Object(
    { target: Type.Union([Type.Literal('payment'), Type.Literal('email')]), settings: Settings },
    { additionalProperties: false },
  ),
  Type.Object({ scenario: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  Type.Object({ reset: Type.Literal(true) }, { additionalProperties: false }),
]);

/** Ops endpoints for the fault switches and the development mailbox (admin only). */
export const faultsRoutes: FastifyPluginAsyncTypebox<{ faults: Faults; pool: pg.Pool }> = async (
  app,
  { faults, pool },
) => {
  app.get(
    '/ops/faults',
    { preHandler: requireAdmin, schema: { tags: ['ops'], summary: 'Current fault switches and scenarios' } },
    async () => ({
      faults: await faults.all(),
      scenarios: Object.keys(faultScenarios),
    }),
  );

  app.post(
    '/ops/faults',
    {
      preHandler: requireAdmin,
      schema: { tags: ['ops'], summary: 'Switch a fault, a named scenario, or reset', body: FaultChange },
    },
    async (request) => {
      const change = request.body;
      if ('reset' in change) {
        await faults.reset();
      } else if ('scenario' in change) {
        const scenario = faultScenarios[change.scenario];
        if (!scenario) {
          throw new HttpProblem(
            400,
            'Bad Request',
            `Unknown scenario "${change.scenario}"; known: ${Object.keys(faultScenarios).join(', ')}.`,
          );
        }
        // A scenario replaces whatever was switched on before, so scenarios never pile up.
        await faults.reset();
        for (const [target, settings] of Object.entries(scenario)) await faults.set(target as FaultTarget, settings);
      } else {
        await faults.set(change.target, change.settings);
      }
      request.log.warn({ change }, 'fault switches changed');
      return { faults: await faults.all() };
    },
  );

  app.get(
    '/ops/mail',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['ops'],
        summary: 'Emails sent by the development mailbox',
        querystring: Type.Object({
          to: Type.Optional(Type.String({ maxLength: 254 })),
          limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$', description: '1 to 500' })),
        }),
      },
    },
    async (request) =>
      listMailbox(pool, {
        ...(request.query.to ? { to: request.query.to } : {}),
        limit: Number(request.query.limit ?? 100),
      }),
  );
};
