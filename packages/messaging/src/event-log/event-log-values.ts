import { randomUUID } from 'node:crypto';
import { assertJsonText, assertKeys, assertText, invalidKey } from '../envelope/storable-values.js';
import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import type { EventLogCursor, NewEvent } from './event-log.js';

/** An event checked for every backend, with its id and headers filled in. */
export interface CheckedEvent {
  readonly id: string;
  readonly stream: string;
  readonly type: string;
  readonly data: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Checks what `append` was given and fills in ids, so that the memory and the PostgreSQL logs
 * refuse the same values (`jsonb` holds no NUL and no lone surrogate) with the same error,
 * before the caller's transaction sees a driver error.
 */
export function checkEvents(events: NewEvent | readonly NewEvent[]): CheckedEvent[] {
  const given: readonly NewEvent[] = Array.isArray(events) ? events : [events as NewEvent];
  return given.map((event, index) => {
    const field = `events[${index}]`;
    if (typeof event !== 'object' || event === null)
      throw new InvalidMessagingValueError(field, 'must be an object { stream, type, data }');
    const id = event.id ?? randomUUID();
    assertKeys({ [`${field}.stream`]: event.stream, [`${field}.type`]: event.type, [`${field}.id`]: id });
    if (event.data === undefined) throw new InvalidMessagingValueError(`${field}.data`, 'must be a JSON value');
    assertJsonText(`${field}.data`, event.data);
    const headers = event.headers ?? {};
    for (const [name, value] of Object.entries(headers)) {
      const invalid = invalidKey(`${field}.headers name`, name);
      if (invalid) throw invalid;
      if (typeof value !== 'string')
        throw new InvalidMessagingValueError(`${field}.headers.${name}`, 'must be a string');
      assertText(`${field}.headers.${name}`, value);
    }
    return { id, stream: event.stream, type: event.type, data: event.data, headers };
  });
}

/** Checks a read `limit`. */
export function checkLimit(limit: number | undefined, fallback: number): number {
  const value = limit ?? fallback;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidMessagingValueError('limit', `must be a positive integer, got ${String(limit)}`);
  return value;
}

/** Checks a cursor given to `read`, `lag` or `prune`. */
export function checkCursor(field: string, cursor: EventLogCursor): EventLogCursor {
  if (
    typeof cursor !== 'object' ||
    cursor === null ||
    !Number.isSafeInteger(cursor.transactionId) ||
    !Number.isSafeInteger(cursor.position) ||
    cursor.transactionId < 0 ||
    cursor.position < 0
  )
    throw new InvalidMessagingValueError(field, 'must be a cursor { transactionId, position } of safe integers ≥ 0');
  return cursor;
}

/** Checks what `prune` was given: at least one bound, each valid. */
export function checkPrune(options: { before?: EventLogCursor; olderThanMs?: number }): void {
  if (options.before === undefined && options.olderThanMs === undefined)
    throw new InvalidMessagingValueError('prune options', 'need before or olderThanMs');
  if (options.before !== undefined) checkCursor('before', options.before);
  if (
    options.olderThanMs !== undefined &&
    !(typeof options.olderThanMs === 'number' && Number.isFinite(options.olderThanMs) && options.olderThanMs >= 0)
  )
    throw new InvalidMessagingValueError(
      'olderThanMs',
      `must be a finite number ≥ 0, got ${String(options.olderThanMs)}`,
    );
}
