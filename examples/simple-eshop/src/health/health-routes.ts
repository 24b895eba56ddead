import { abortable } from '@bulwark/resilience';
import type { FastifyPluginAsync } from 'fastify';

/**
 * A named readiness check: resolves when the dependency answers, rejects otherwise. The route
 * stops waiting when `signal` aborts, whether or not the check heeds it: a server that went
 * silent must not hold the probe (and the orchestrator's own timeout) hostage.
 */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void>;

export interface HealthOptions {
  checks: Record<string, ReadinessCheck>;
  /** The current values of the OpenTelemetry instruments as Prometheus text. */
  prometheusText: () => Promise<string>;
  /** How long one readiness check may take. @defaultValue 2000 */
  checkTimeoutMs?: number;
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, options) => {
  const timeoutMs = options.checkTimeoutMs ?? 2_000;

  app.get('/health/live', { schema: { tags: ['ops'], summary: 'Liveness' } }, async () => ({ status: 'live' }));

  app.get(
    '/health/ready',
    { schema: { tags: ['ops'], summary: 'Readiness of every dependency' } },
    async (_request, reply) => {
      const results = await Promise.all(
        Object.entries(options.checks).map(async ([name, check]) => {
          try {
            const signal = AbortSignal.timeout(timeoutMs);
            await abortable(check(signal), signal);
            return [name, { status: 'up' }] as const;
          } catch (error) {
            return [name, { status: 'down', error: error instanceof Error ? error.message : String(error) }] as const;
          }
        }),
      );
      const ready = results.every(([, result]) => result.status === 'up');
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'not-ready', checks: Object.fromEntries(results) });
    },
  );

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(await options.prometheusText()),
  );
};
