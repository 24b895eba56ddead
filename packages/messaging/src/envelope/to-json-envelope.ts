// The public way to a JsonEnvelope from text of unknown origin: parsed and checked as `publish`
// checks an envelope, so no text that consumers cannot read reaches `publishJson`.
import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import type { Envelope } from './envelope.js';
import { type JsonEnvelope, trustedJsonEnvelopeOf } from './json-envelope.js';
import { assertStorableEnvelope } from './storable-values.js';

/**
 * Parses and checks `text` as the JSON of an envelope, and makes it a {@link JsonEnvelope} that
 * `publishJson` takes. The text must be a JSON object with the fields of an {@link Envelope}
 * (`id`, `topic`, `type`, `payload`, `headers` of strings, `occurredAt`; `key` and `groupId` where
 * set), each fit to send as `publish` requires. What goes on the wire is `JSON.stringify` of the
 * parsed envelope, so consumers read exactly what `publish` of it gives them: a number past a
 * double's range (`1e400`) arrives as `null` and `-0` as `0`, as through `publish`. It costs a
 * parse and a serialization, as `publish` does; only the PostgreSQL outbox skips both, for text
 * PostgreSQL has parsed.
 *
 * @throws {@link @bulwark/messaging!InvalidMessagingValueError} (field `json`, or `message.<field>`)
 * when `text` is not a string, not JSON, not an envelope, or holds a field no transport sends unchanged.
 */
export function toJsonEnvelope(text: string): JsonEnvelope {
  if (typeof text !== 'string') throw new InvalidMessagingValueError('json', `is ${describe(text)}, not a string`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidMessagingValueError('json', `is not JSON (${(error as Error).message})`, { cause: error });
  }
  const message = asEnvelope(parsed);
  let json: string;
  try {
    json = JSON.stringify(message);
  } catch (error) {
    // V8 writes JSON out recursively: nesting that it could read may be too deep to write again.
    throw new InvalidMessagingValueError('json', `cannot be written out again (${(error as Error).message})`, {
      cause: error,
    });
  }
  return trustedJsonEnvelopeOf(message, json);
}

/** `value` (parsed JSON) as an envelope; throws for what is not one, and for what `publish` refuses. */
function asEnvelope(value: unknown): Envelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidMessagingValueError('json', `is ${describe(value)}, not an envelope object`);
  const message = value as Record<string, unknown>;
  if (message.topic === undefined) throw new InvalidMessagingValueError('message.topic', 'is missing');
  if (!('payload' in message)) throw new InvalidMessagingValueError('message.payload', 'is missing');
  if (typeof message.occurredAt !== 'string')
    throw new InvalidMessagingValueError('message.occurredAt', `is ${describe(message.occurredAt)}, not a string`);
  const headers = message.headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
    throw new InvalidMessagingValueError('message.headers', `is ${describe(headers)}, not an object`);
  for (const [name, header] of Object.entries(headers))
    if (typeof header !== 'string')
      throw new InvalidMessagingValueError(`message.headers.${name}`, `is ${describe(header)}, not a string`);
  // The id, topic, type, key, group id and headers, as `publish` checks them.
  assertStorableEnvelope(message as unknown as Envelope);
  return message as unknown as Envelope;
}

/** How a value reads in an error: `missing`, `null`, `an array`, `a number`. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
