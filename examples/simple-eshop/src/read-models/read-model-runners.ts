// Runs the shop's projections. Every process of the role that runs them starts them; one runner
// per projection leads across processes (an advisory lock), the others stand by and take over
// from the stored checkpoint when the leader dies.
import type { Projection } from '@bulwark/messaging';
import type { PostgresEventLog } from '@bulwark/messaging/postgres';
import type pg from 'pg';
import { migrateUnderShopLock } from '../infrastructure/migrate.js';
import { orderHistoryDdl, orderHistoryProjection, orderHistoryTable } from './order-history.js';
import { salesDashboardDdl, salesDashboardProjection, salesDashboardTable } from './sales-dashboard.js';

/** A projection's state as the ops view shows it (plain JSON: it is written to the process status). */
export interface ProjectionStatus {
  name: string;
  state: string;
  rebuilding: boolean;
  applied: number;
  /** Events not applied yet; null on a standby (the leader reports it). */
  lagEvents: number | null;
  /** Age of the oldest event not applied yet; null on a standby. */
  lagMs: number | null;
  failures: number;
  lastError: string | null;
}

/**
 * Creates the read-model tables if missing, so the API can query them before any projection
 * has led; the projections' `create` does the same for a rebuild's fresh table.
 */
export async function migrateReadModels(pool: pg.Pool): Promise<void> {
  await migrateUnderShopLock(
    pool,
    'simple-eshop:read-models',
    orderHistoryDdl(orderHistoryTable) + salesDashboardDdl(salesDashboardTable),
  );
}

export interface ReadModelRunners {
  readonly projections: readonly Projection[];
  status(): ProjectionStatus[];
  close(): Promise<void>;
}

export function startReadModels(log: PostgresEventLog, options: { pollIntervalMs?: number } = {}): ReadModelRunners {
  const projections = [orderHistoryProjection(log, options), salesDashboardProjection(log, options)];
  return {
    projections,
    status: () =>
      projections.map((runner) => {
        const snapshot = runner.snapshot();
        return {
          name: snapshot.name,
          state: snapshot.state,
          rebuilding: snapshot.rebuilding,
          applied: snapshot.applied,
          lagEvents: snapshot.lagEvents ?? null,
          lagMs: snapshot.lagMs ?? null,
          failures: snapshot.failures,
          lastError: snapshot.lastError === undefined ? null : String(snapshot.lastError),
        };
      }),
    async close() {
      await Promise.all(projections.map((runner) => runner.close()));
    },
  };
}
