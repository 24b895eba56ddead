// What /health/ready asks: a cheap ping of each server the shop uses, and the connection health
// the Bulwark components report for themselves (a transport reconnecting, say). Every check is
// bounded by the route's timeout, so a server that went silent answers 503, never a hang.
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ReadinessCheck } from './health-routes.js';

/** The connection health a Bulwark component reports (`health` or `health()`). */
interface ReportedHealth {
  readonly status: 'up' | 'degraded';
  readonly lastError?: string;
}

/** A component that may report its connection health, as a property or a method. */
export interface HealthReporting {
  readonly health?: ReportedHealth | (() => ReportedHealth);
}

function reportedHealth(component: object): ReportedHealth | undefined {
  const health = (component as HealthReporting).health;
  return typeof health === 'function' ? health.call(component) : health;
}

/** Throws when a component says its connection is degraded. */
function assertHealthy(name: string, component: object): void {
  const health = reportedHealth(component);
  if (health?.status === 'degraded') {
    throw new Error(`${name} is degraded${health.lastError ? `: ${health.lastError}` : ''}`);
  }
}

/**
 * `SELECT 1` on a pooled connection: fails fast while the server refuses connections. On a
 * server gone silent, pg gives the query up after `timeoutMs` and the pool drops that connection,
 * so probes of a silent server do not pile up on the pool's connections.
 */
export function databaseReadiness(pool: pg.Pool, { timeoutMs = 2_000 }: { timeoutMs?: number } = {}): ReadinessCheck {
  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const probe: pg.QueryConfig & { query_timeout: number } = { text: 'SELECT 1', query_timeout: timeoutMs };
  return async () => {
    await pool.query(probe);
  };
}

/**
 * Redis: not ready while ioredis is not connected (its offline queue would hold a PING until the
 * server is back), else a PING.
 */
export function redisReadiness(redis: Redis): ReadinessCheck {
  return async () => {
    if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
    await redis.ping();
  };
}

/**
 * A transport: its own connection health when it reports one, then `probe` (a call that goes to
 * the broker, such as the depth of its queues).
 */
export function transportReadiness(
  name: string,
  transport: object,
  probe: (signal: AbortSignal) => Promise<unknown>,
): ReadinessCheck {
  return async (signal) => {
    assertHealthy(name, transport);
    await probe(signal);
  };
}
