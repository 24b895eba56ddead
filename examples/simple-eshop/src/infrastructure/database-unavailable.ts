// Tells "the database is unreachable right now" (a restart, a terminated backend, a cut network)
// from every other database error: the first is worth retrying and is a 503, the rest are not.

/** SQLSTATEs of a server going away: admin/crash shutdown, cannot connect now, too many connections. */
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket errors of a connection that could not open or broke. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
/** node-postgres reports a dropped connection or a connect timeout with these messages and no code. */
const droppedConnection =
  /^(Connection terminated|Connection terminated unexpectedly|Connection terminated due to connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;

/** SQLSTATEs of a transaction the server rolled back for its own reasons: deadlock, serialization. */
const rolledBackStates = new Set(['40P01', '40001']);

/**
 * Whether running the same transaction again may well succeed: the database was unreachable
 * ({@link isDatabaseUnavailable}), or it rolled the transaction back for a deadlock or a
 * serialization failure.
 */
export function isRetryableDatabaseError(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return (typeof code === 'string' && rolledBackStates.has(code)) || isDatabaseUnavailable(error);
}

/**
 * Whether `error` (or an error in its `cause` chain) says the database could not be reached or
 * the connection broke, rather than that the statement failed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (unavailableStates.has(code) || code.startsWith('08') || socketCodes.has(code)))
      return true;
    if (droppedConnection.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}
