import type { Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import { isConnectionLost, isReadTimeout, withTransaction } from '@bulwark/resilience/postgres';
import type { Pool, PoolClient, QueryConfig } from 'pg';
import type { MessageContext, MessageHandler } from '../consumer/consumer-options.js';
import type { Envelope } from '../envelope/envelope.js';
import { assertKeys } from '../envelope/storable-values.js';
import { traceInboxHandler } from '../telemetry/message-spans.js';
import {
  checkQueryTimeout,
  defaultQueryTimeoutMs,
  PostgresStoreError,
  statementRunner,
} from './postgres-store-error.js';
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
  const table = tableName('postgresInbox', options.table ?? 'bulwark_inbox');
  const render = (sql: string) =>
    sql.replaceAll('{{table}}', table.quoted).replaceAll('{{handledIndex}}', table.suffixed('_handled_idx'));
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

/** Options of {@link postgresInbox}. */
export interface PostgresInboxOptions {
  /** @defaultValue `'bulwark_inbox'` */
  table?: string;
  /**
   * The longest the inbox's own statements may take: taking a connection, `BEGIN`, recording the
   * id, `COMMIT`, a sweep. Past it the handler rejects with `PostgresStoreError`
   * (`POSTGRES_TIMEOUT`) and nothing was committed unless `COMMIT` itself timed out (then the
   * redelivery is recognised as a duplicate). Your work's own queries are bounded by your pool
   * (`query_timeout`) or by you; when one fails because the connection was lost or timed out,
   * the handler also rejects with `PostgresStoreError` (your other errors pass through as they
   * are). @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** Times `queryTimeoutMs`. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link PostgresInboxOptions}. */
export const postgresInboxDefaults = { table: 'bulwark_inbox', queryTimeoutMs: defaultQueryTimeoutMs } as const;

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
export function postgresInbox(pool: Pool, options: PostgresInboxOptions = {}): PostgresInbox {
  const sql = postgresInboxSql(options);
  const validator = new OptionsValidator('postgresInbox');
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresInboxDefaults.queryTimeoutMs;
  checkQueryTimeout(queryTimeoutMs, validator);
  validator.throwIfInvalid();
  const clock = options.clock;
  const query = statementRunner(pool, 'postgresInbox', { timeoutMs: queryTimeoutMs, clock });
  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const bounded = (text: string, values: unknown[]): QueryConfig =>
    ({ text, values, query_timeout: queryTimeoutMs }) as QueryConfig;
  const isTimeout = (error: unknown) =>
    (error instanceof Error && error.name === 'TimeoutError') || isReadTimeout(error);
  return {
    sql,
    async migrate(migrateOptions = {}) {
      migrateOptions.signal?.throwIfAborted();
      await query('migrate', sql.migrate, [], migrateOptions.signal);
    },
    handler<Payload>(
      group: string,
      work: (message: Envelope<Payload>, context: InboxContext) => Promise<void>,
      handlerOptions: InboxHandlerOptions<Payload> = {},
    ): MessageHandler<Payload> {
      assertKeys({ group });
      return async (message, context) => {
        assertKeys({ 'message.id': message.id });
        const duplicate = await traceInboxHandler(group, message, () => recordAndRun(message, context));
        if (duplicate) handlerOptions.onDuplicate?.(message);
      };
      /** Records the id and runs the work in one transaction; resolves `true` for a duplicate. */
      async function recordAndRun(message: Envelope<Payload>, context: MessageContext): Promise<boolean> {
        let duplicate: boolean;
        /** The work failed on its own, not because the inbox's connection did. */
        let workFailed = false;
        try {
          // A duplicate commits an empty transaction: the record statement inserted nothing.
          duplicate = await withTransaction(
            pool,
            async (client) => {
              const recorded = await client.query(bounded(sql.record, [group, message.id]));
              if (recorded.rowCount === 0) return true;
              let connectionLost = false;
              const onError = () => {
                connectionLost = true;
              };
              client.on('error', onError);
              try {
                await work(message, { ...context, client });
              } catch (error) {
                // A client that met a connection error before the work listened says so only on its next query.
                workFailed = !connectionLost && !isReadTimeout(error) && !isConnectionLost(error);
                throw error;
              } finally {
                client.off('error', onError);
              }
              return false;
            },
            { connectTimeoutMs: queryTimeoutMs, queryTimeoutMs, clock, signal: context.signal },
          );
        } catch (error) {
          // The work's own errors go to the consumer as they are; the inbox's are typed.
          if (workFailed || context.signal.aborted) throw error;
          throw new PostgresStoreError('postgresInbox.handler', {
            reason: isTimeout(error) ? 'timeout' : 'failed',
            timeoutMs: queryTimeoutMs,
            cause: error,
          });
        }
        return duplicate;
      }
    },
    async sweep(windowMs, sweepOptions = {}) {
      sweepOptions.signal?.throwIfAborted();
      const result = await query('sweep', sql.sweep, [windowMs, sweepOptions.limit ?? 10_000], sweepOptions.signal);
      return result.rowCount ?? 0;
    },
  };
}
