import { createHash } from 'node:crypto';
import type { Clock, OptionsValidator } from '@bulwark/resilience';
import { boundedQuery, type PostgresQueryFailure, type PostgresQueryTarget } from '@bulwark/resilience/postgres';
import type { QueryResult, QueryResultRow } from 'pg';
import { MessagingError } from '../errors/messaging-error.js';

/** The codes of {@link PostgresStoreError}. */
export type PostgresStoreErrorCode = 'POSTGRES_TIMEOUT' | 'POSTGRES_FAILED';

/**
 * A PostgreSQL adapter of `@bulwark/messaging` could not complete a call: the server or the
 * connection failed (`POSTGRES_FAILED`, the driver's error is the `cause`), or no answer came
 * within the adapter's `queryTimeoutMs` (`POSTGRES_TIMEOUT`). After a timeout the statement may
 * still have been applied; every adapter's operations are safe to retry.
 */
export class PostgresStoreError extends MessagingError {
  override name = 'PostgresStoreError';
  declare readonly code: PostgresStoreErrorCode;
  constructor(
    /** The adapter and operation, e.g. `postgresIdempotencyStore.begin`. */
    readonly operation: string,
    failure: PostgresQueryFailure,
  ) {
    super(
      failure.reason === 'timeout' ? 'POSTGRES_TIMEOUT' : 'POSTGRES_FAILED',
      failure.reason === 'timeout'
        ? `${operation}: PostgreSQL did not answer within ${failure.timeoutMs} ms`
        : `${operation}: PostgreSQL failed: ${failure.cause instanceof Error ? failure.cause.message : String(failure.cause)}`,
      { cause: failure.cause },
    );
  }
}

/** The bound every messaging PostgreSQL adapter puts on one statement, by default. */
export const defaultQueryTimeoutMs = 5_000;

/** Runs one bounded statement for `subject` (e.g. `postgresInbox`), failing with {@link PostgresStoreError}. */
export type PostgresStatementRunner = <Row extends QueryResultRow = QueryResultRow>(
  operation: string,
  text: string,
  values: unknown[],
  signal?: AbortSignal,
) => Promise<QueryResult<Row>>;

/** A {@link PostgresStatementRunner} over `target` with the adapter's bound and clock. */
export function statementRunner(
  target: PostgresQueryTarget,
  subject: string,
  options: {
    readonly timeoutMs: number;
    readonly clock?: Clock;
    /**
     * Run every statement as a named prepared statement (each must be one statement): parsed and
     * planned once per connection instead of at every call, which a hot path sent thousands of
     * times a second feels.
     */
    readonly prepared?: boolean;
  },
): PostgresStatementRunner {
  const names = new Map<string, string>();
  // Names are per connection and at most 63 bytes: a hash of the text, so statements rendered for
  // other tables on the same pool never collide.
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `bulwark_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      names.set(text, name);
    }
    return name;
  };
  return (operation, text, values, signal) =>
    boundedQuery(target, options.prepared ? { name: nameOf(text), text, values } : { text, values }, {
      timeoutMs: options.timeoutMs,
      signal,
      clock: options.clock,
      toError: (failure) => new PostgresStoreError(`${subject}.${operation}`, failure),
    });
}

/** Checks a `queryTimeoutMs` option; reports a problem to `validator` when it is invalid. */
export function checkQueryTimeout(value: number, validator: OptionsValidator): void {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value)))
    validator.report(`queryTimeoutMs must be a positive number, got ${String(value)}`);
}

/**
 * Whether the server refused the statement for its data (SQLSTATE classes 22 data exception, 23
 * integrity, 42 syntax or access): the same statement with other data may pass. Any other failure
 * (a lost connection, a timeout, the server shutting down) would fail every statement alike.
 */
export function isStatementRejected(error: unknown): boolean {
  if (!(error instanceof PostgresStoreError) || error.code !== 'POSTGRES_FAILED') return false;
  const sqlState = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof sqlState === 'string' && /^(22|23|42)/.test(sqlState);
}
