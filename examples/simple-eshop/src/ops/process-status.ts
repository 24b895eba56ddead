// Every process of the shop writes a snapshot of its patterns to PostgreSQL once a second; the
// ops view reads them all. A process that stops (or dies) ages out after `maxAgeMs`.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';

export interface ProcessStatusRow<Status> {
  processId: string;
  role: string;
  status: Status;
  updatedAt: string;
}

export function publishProcessStatus<Status>(
  pool: pg.Pool,
  options: { role: string; snapshot: () => Status; everyMs?: number; onError?: (error: unknown) => void },
): { processId: string; close(): Promise<void> } {
  const processId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const write = () =>
    pool
      .query(
        `INSERT INTO shop_process_status (process_id, role, status, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (process_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()`,
        [processId, options.role, JSON.stringify(options.snapshot())],
      )
      .catch((error: unknown) => options.onError?.(error));
  void write();
  const timer = setInterval(write, options.everyMs ?? 1_000);
  timer.unref();
  return {
    processId,
    async close() {
      clearInterval(timer);
      await pool.query('DELETE FROM shop_process_status WHERE process_id = $1', [processId]).catch(() => {});
    },
  };
}

export async function readProcessStatuses<Status>(
  pool: pg.Pool,
  maxAgeMs = 10_000,
): Promise<Array<ProcessStatusRow<Status>>> {
  const { rows } = await pool.query<ProcessStatusRow<Status>>(
    `SELECT process_id AS "processId", role, status, updated_at AS "updatedAt" FROM shop_process_status
      WHERE updated_at > now() - make_interval(secs => $1::double precision / 1000) ORDER BY process_id`,
    [maxAgeMs],
  );
  return rows;
}
