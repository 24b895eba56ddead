import { jsonTextProblem } from '@bulwark/resilience';
import type { Pool } from 'pg';
import type { DeadLetter, DeadLetterStore } from '../dead-letter/dead-letter-store.js';
import { originalTopicOf } from '../dead-letter/dead-letter-store.js';
import type { Envelope } from '../envelope/envelope.js';
import addSql from './sql/dead-letter-add.sql';
import listSql from './sql/dead-letter-list.sql';
import migrateSql from './sql/dead-letter-migrate.sql';
import removeSql from './sql/dead-letter-remove.sql';
import { tableName } from './table-name.js';

/** The SQL of the PostgreSQL dead-letter store, rendered for one table. */
export interface PostgresDeadLetterSql {
  /** Creates the table and its index if missing (for your own migration tool). */
  readonly migrate: string;
  readonly add: string;
  readonly list: string;
  readonly remove: string;
}

/** The statements of {@link postgresDeadLetterStore} for `table`. @defaultValue table `'bulwark_dead_letters'` */
export function postgresDeadLetterSql(options: { table?: string } = {}): PostgresDeadLetterSql {
  const table = options.table ?? 'bulwark_dead_letters';
  const { quoted, name } = tableName('postgresDeadLetterStore', table);
  const render = (sql: string) =>
    sql.replaceAll('{{table}}', quoted).replaceAll('{{storedIndex}}', `"${name}_stored_idx"`);
  return { migrate: render(migrateSql), add: render(addSql), list: render(listSql), remove: render(removeSql) };
}

/** The PostgreSQL {@link DeadLetterStore}, with `migrate()`. */
export interface PostgresDeadLetterStore extends DeadLetterStore {
  /** Creates the table if missing; safe to run at every start. */
  migrate(options?: { signal?: AbortSignal }): Promise<void>;
  readonly sql: PostgresDeadLetterSql;
}

/**
 * The PostgreSQL {@link DeadLetterStore} over the user's `pg` Pool (never closed by the store),
 * for `deadLetterQueue(transport, { topic, store })`. Envelopes are stored as `jsonb`.
 *
 * @example
 * ```ts
 * const store = postgresDeadLetterStore(pool);
 * await store.migrate();
 * const dlq = await deadLetterQueue(transport, { topic: 'orders.dead-letter', store });
 * ```
 */
export function postgresDeadLetterStore(pool: Pool, options: { table?: string } = {}): PostgresDeadLetterStore {
  const sql = postgresDeadLetterSql(options);
  return {
    sql,
    async migrate(migrateOptions = {}) {
      migrateOptions.signal?.throwIfAborted();
      await pool.query(sql.migrate);
    },
    async add(message: Envelope, addOptions = {}) {
      addOptions.signal?.throwIfAborted();
      // Dead letters arrive from transports, which carry any payload text; jsonb refuses NUL and
      // lone surrogates, so such an envelope is kept as its JSON text (a jsonb string), escaped.
      const text = JSON.stringify(message);
      const stored = jsonTextProblem(message) ? JSON.stringify(text) : text;
      await pool.query(sql.add, [message.id, originalTopicOf(message), stored]);
    },
    async list(listOptions = {}) {
      listOptions.signal?.throwIfAborted();
      const result = await pool.query<{ message: Envelope | string; original_topic: string; stored_at_ms: number }>(
        sql.list,
        [listOptions.originalTopic ?? null, listOptions.limit ?? 100],
      );
      return result.rows.map(
        (row): DeadLetter => ({
          message: typeof row.message === 'string' ? (JSON.parse(row.message) as Envelope) : row.message,
          originalTopic: row.original_topic,
          storedAt: row.stored_at_ms,
        }),
      );
    },
    async remove(selection = {}) {
      selection.signal?.throwIfAborted();
      const result = await pool.query(sql.remove, [selection.ids ?? null, selection.originalTopic ?? null]);
      return result.rowCount ?? 0;
    },
    async close() {},
  };
}
