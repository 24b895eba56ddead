import type { Pool, PoolClient } from 'pg';
import type { MessageContext, MessageHandler } from '../consumer/consumer-options.js';
import type { Envelope } from '../envelope/envelope.js';
import { assertKeys } from '../envelope/storable-values.js';
import migrateSql from './sql/inbox-migrate.sql';
import recordSql from './sql/inbox-record.sql';
import sweepSql from './sql/inbox-sweep.sql';
import { tableName } from './table-name.js';

/** The SQL of the PostgreSQL inbox, rendered for one table. */
export interface PostgresInboxSql {
  /** Creates the table and its index if missing (for your own migration tool). */
  readonly migrate: string;
  readonly record: string;
  readonly sweep: string;
}

/** The statements of {@link postgresInbox} for `table`. @defaultValue table `'bulwark_inbox'` */
export function postgresInboxSql(options: { table?: string } = {}): PostgresInboxSql {
  const table = options.table ?? 'bulwark_inbox';
  const { quoted, name } = tableName('postgresInbox', table);
  const render = (sql: string) =>
    sql.replaceAll('{{table}}', quoted).replaceAll('{{handledIndex}}', `"${name}_handled_idx"`);
  return { migrate: render(migrateSql), record: render(recordSql), sweep: render(sweepSql) };
}

/** What a transactional handler receives: the consumer's context plus the transaction's client. */
export interface InboxContext extends MessageContext {
  /** The client of the open transaction: write your effects with it so they commit with the inbox record. */
  readonly client: PoolClient;
}

/** Options of {@link PostgresInbox.handler}. */
export interface InboxHandlerOptions<Payload> {
  /** Called when a message is skipped because its id was already handled. */
  onDuplicate?: (message: Envelope<Payload>) => void;
}

/** The transactional inbox on PostgreSQL: see {@link postgresInbox}. */
export interface PostgresInbox {
  /** Creates the table if missing; safe to run at every start. */
  migrate(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Wraps `work` into a consumer handler that runs it inside a transaction which first records
   * the message id for `group`: a message whose id is recorded is skipped, and the record commits
   * or rolls back with the work's own writes — exactly-once effects for writes to this database.
   */
  handler<Payload = unknown>(
    group: string,
    work: (message: Envelope<Payload>, context: InboxContext) => Promise<void>,
    options?: InboxHandlerOptions<Payload>,
  ): MessageHandler<Payload>;
  /** Forgets ids handled more than `windowMs` ago (up to `limit` rows); returns how many. */
  sweep(windowMs: number, options?: { limit?: number; signal?: AbortSignal }): Promise<number>;
  readonly sql: PostgresInboxSql;
}

/**
 * The transactional inbox: the consumer's `dedupe` (on an `IdempotencyStore`) skips messages it
 * has seen, but a process killed between a handler's side effect and the inbox record can run
 * that handler once more. When the effects are writes to PostgreSQL, this inbox closes the gap:
 * the message id is recorded in the same transaction as the effects.
 *
 * @example
 * ```ts
 * const inbox = postgresInbox(pool);
 * await inbox.migrate();
 * await consume(transport, {
 *   topic: 'orders', group: 'billing',
 *   handler: inbox.handler('billing', async (message, { client }) => {
 *     await client.query('INSERT INTO invoices (order_id) VALUES ($1)', [message.payload.orderId]);
 *   }),
 * });
 * ```
 */
export function postgresInbox(pool: Pool, options: { table?: string } = {}): PostgresInbox {
  const sql = postgresInboxSql(options);
  return {
    sql,
    async migrate(migrateOptions = {}) {
      migrateOptions.signal?.throwIfAborted();
      await pool.query(sql.migrate);
    },
    handler<Payload>(
      group: string,
      work: (message: Envelope<Payload>, context: InboxContext) => Promise<void>,
      handlerOptions: InboxHandlerOptions<Payload> = {},
    ): MessageHandler<Payload> {
      assertKeys({ group });
      return async (message, context) => {
        assertKeys({ 'message.id': message.id });
        const client = await pool.connect();
        let broken: unknown;
        try {
          await client.query('BEGIN');
          const recorded = await client.query(sql.record, [group, message.id]);
          if (recorded.rowCount === 0) {
            await client.query('ROLLBACK');
            handlerOptions.onDuplicate?.(message);
            return;
          }
          await work(message, { ...context, client });
          await client.query('COMMIT');
        } catch (error) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection is gone: destroy it rather than return it to the pool.
            broken = rollbackError;
          }
          throw error;
        } finally {
          client.release(broken instanceof Error ? broken : undefined);
        }
      };
    },
    async sweep(windowMs, sweepOptions = {}) {
      sweepOptions.signal?.throwIfAborted();
      const result = await pool.query(sql.sweep, [windowMs, sweepOptions.limit ?? 10_000]);
      return result.rowCount ?? 0;
    },
  };
}
