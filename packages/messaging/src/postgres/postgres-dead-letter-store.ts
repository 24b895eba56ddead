import { type Clock, jsonTextProblem, OptionsValidator } from '@bulwark/resilience';
import type { Pool } from 'pg';
import type { DeadLetter, DeadLetterStore } from '../dead-letter/dead-letter-store.js';
import { originalTopicOf } from '../dead-letter/dead-letter-store.js';
import type { Envelope } from '../envelope/envelope.js';
import { checkQueryTimeout, defaultQueryTimeoutMs, statementRunner } from './postgres-store-error.js';
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
  const { quoted, suffixed } = tableName('postgresDeadLetterStore', options.table ?? 'bulwark_dead_letters');
  const render = (sql: string) =>
    sql.replaceAll('{{table}}', quoted).replaceAll('{{storedIndex}}', suffixed('_stored_idx'));
  return { migrate: render(migrateSql), add: render(addSql), list: render(listSql), remove: render(removeSql) };
}

/** Options of {@link postgresDeadLetterStore}. */
export interface PostgresDeadLetterStoreOptions {
  /** @defaultValue `'bulwark_dead_letters'` */
  table?: string;
  /**
   * The longest one statement may take, taking a pool connection included; past it the call
   * rejects with `PostgresStoreError` (`POSTGRES_TIMEOUT`); other failures of the server or the
   * connection reject with `POSTGRES_FAILED`. Give the pool `connectionTimeoutMillis` too.
   * @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** Times `queryTimeoutMs`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link PostgresDeadLetterStoreOptions}. */
export const postgresDeadLetterStoreDefaults = {
  table: 'bulwark_dead_letters',
  queryTimeoutMs: defaultQueryTimeoutMs,
} as const;

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
export function postgresDeadLetterStore(
  pool: Pool,
  options: PostgresDeadLetterStoreOptions = {},
): PostgresDeadLetterStore {
  const sql = postgresDeadLetterSql(options);
  const validator = new OptionsValidator('postgresDeadLetterStore');
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresDeadLetterStoreDefaults.queryTimeoutMs;
  checkQueryTimeout(queryTimeoutMs, validator);
  validator.throwIfInvalid();
  const query = statementRunner(pool, 'postgresDeadLetterStore', { timeoutMs: queryTimeoutMs, clock: options.clock });
  return {
    sql,
    async migrate(migrateOptions = {}) {
      migrateOptions.signal?.throwIfAborted();
      await query('migrate', sql.migrate, [], migrateOptions.signal);
    },
    async add(message: Envelope, addOptions = {}) {
      addOptions.signal?.throwIfAborted();
      // Dead letters arrive from transports, which carry any payload text; jsonb refuses NUL and
      // lone surrogates, so such an envelope is kept as its JSON text (a jsonb string), escaped.
      const text = JSON.stringify(message);
      const stored = jsonTextProblem(message) ? JSON.stringify(text) : text;
      await query('add', sql.add, [message.id, originalTopicOf(message), stored], addOptions.signal);
    },
    async list(listOptions = {}) {
      listOptions.signal?.throwIfAborted();
      const result = await query<{ message: Envelope | string; original_topic: string; stored_at_ms: number }>(
        'list',
        sql.list,
        [listOptions.originalTopic ?? null, listOptions.limit ?? 100],
        listOptions.signal,
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
      const result = await query(
        'remove',
        sql.remove,
        [selection.ids ?? null, selection.originalTopic ?? null],
        selection.signal,
      );
      return result.rowCount ?? 0;
    },
    async close() {},
  };
}
