// The shape every read model of the shop shares: a projection of the event log into one table of
// the shop's database, created from its DDL (under the rebuild's fresh name too), kept event by event.
import { type EventLog, type LoggedEvent, projection } from '@bulwark/messaging';
import type pg from 'pg';

export interface TableProjectionDefinition {
  name: string;
  /** The live table's name. */
  table: string;
  /** The table (and its indexes) named after `table`: the live one, or a rebuild's fresh one. */
  ddl(table: string): string;
  /** Applies one event to `table`, inside the projection's transaction. */
  apply(client: pg.PoolClient, table: string, event: LoggedEvent): Promise<void>;
}

export function tableProjection(
  log: EventLog<never, pg.PoolClient>,
  definition: TableProjectionDefinition,
  options: { pollIntervalMs?: number } = {},
) {
  return projection<pg.PoolClient>({
    name: definition.name,
    source: log,
    pollIntervalMs: options.pollIntervalMs ?? 100,
    readModel: {
      table: definition.table,
      async create({ executor, table }) {
        await executor.query(definition.ddl(table));
      },
    },
    async handle(events, { executor, table }) {
      for (const event of events) await definition.apply(executor, table ?? definition.table, event);
    },
  });
}
