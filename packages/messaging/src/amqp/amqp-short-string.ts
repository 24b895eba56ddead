import { InvalidMessagingValueError } from '../errors/messaging-error.js';

/** AMQP 0-9-1 short strings (queue names, routing keys, message ids, types) hold at most 255 bytes. */
const maxShortStringBytes = 255;

/** Whether `value` fits an AMQP short string. */
export function fitsShortString(value: string | undefined): value is string {
  // Not only undefined: a header a JavaScript caller set to null or a number is left out too.
  if (typeof value !== 'string') return false;
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: short values need no byte count (every publish asks).
  return value.length * 3 <= maxShortStringBytes || Buffer.byteLength(value, 'utf8') <= maxShortStringBytes;
}

/**
 * Throws {@link InvalidMessagingValueError} for a value RabbitMQ would refuse as a short string,
 * before anything is sent: the broker would close the channel instead.
 */
export function assertShortStrings(fields: Record<string, string | undefined>): void {
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined || fitsShortString(value)) continue;
    const bytes = Buffer.byteLength(value, 'utf8');
    throw new InvalidMessagingValueError(
      field,
      `takes ${bytes} UTF-8 bytes in an AMQP short string, more than the ${maxShortStringBytes} RabbitMQ allows`,
    );
  }
}
