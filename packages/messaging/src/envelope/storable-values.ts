// The checks every adapter runs before it writes, so a value that a backend cannot hold is
// refused with one typed error, the same on every backend (see `storable-text` in resilience).
import { jsonTextProblem, keyProblem, textProblem, unicodeProblem } from '@bulwark/resilience';
import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import type { Envelope } from './envelope.js';
import { assertJsonEnvelope, type JsonEnvelope } from './json-envelope.js';

/**
 * The longest topic, in UTF-8 bytes, that every transport carries: RabbitMQ's routing keys and
 * names are short strings of at most 255 bytes. A longer topic is refused everywhere (the outbox
 * included), so that no message is accepted that a relay to one of the transports could never send.
 */
export const maxTopicBytes = 255;
const topicFields = new Set(['topic', 'message.topic']);

/** The error for a key, id, topic or group name no backend can hold; `undefined` when fine. */
export function invalidKey(field: string, value: unknown): InvalidMessagingValueError | undefined {
  const problem = keyProblem(value, topicFields.has(field) ? maxTopicBytes : undefined);
  return problem === undefined ? undefined : new InvalidMessagingValueError(field, problem);
}

/** Throws {@link InvalidMessagingValueError} for the first of `fields` no backend can hold as a key. */
export function assertKeys(fields: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(fields)) assertKey(field, value);
}

/** Throws {@link InvalidMessagingValueError} when no backend can hold `value` as a key. */
function assertKey(field: string, value: unknown): void {
  const invalid = invalidKey(field, value);
  if (invalid) throw invalid;
}

/** Throws when text (not a key: any length) holds a NUL or a lone surrogate. */
export function assertText(field: string, value: string): void {
  const problem = textProblem(value);
  if (problem !== undefined) throw new InvalidMessagingValueError(field, problem);
}

/** Throws when a JSON value holds text PostgreSQL `jsonb` refuses (NUL, lone surrogates). */
export function assertJsonText(field: string, value: unknown): void {
  const found = jsonTextProblem(value);
  if (found) throw new InvalidMessagingValueError(`${field}${found.path.slice(1)}`, found.problem);
}

/**
 * Throws when an envelope cannot travel unchanged: its id, type, key and group id are keys,
 * header names are keys and header values text. With `payload: 'json-text'` (stores that keep
 * the envelope as `jsonb`) the payload is checked too; transports carry bytes, so any payload
 * their serializer takes comes back as it went.
 */
export function assertStorableEnvelope(message: Envelope, options: { payload?: 'json-text' } = {}): void {
  // A JavaScript caller, or parsed JSON, may hand over anything.
  if (typeof message !== 'object' || message === null)
    throw new InvalidMessagingValueError(
      'message',
      `is ${message === null ? 'null' : `a ${typeof message}`}, not an envelope`,
    );
  // Field by field, not through a record: every publish of every transport runs this per message.
  assertKey('message.id', message.id);
  assertKey('message.type', message.type);
  if (message.topic !== undefined) assertKey('message.topic', message.topic);
  if (message.key !== undefined) assertKey('message.key', message.key);
  if (message.groupId !== undefined) assertKey('message.groupId', message.groupId);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const invalid = invalidKey('message.headers name', name);
    if (invalid)
      throw new InvalidMessagingValueError(`message.headers[${JSON.stringify(name)}]`, `name ${invalid.problem}`);
    if (typeof value === 'string') assertText(`message.headers.${name}`, value);
  }
  if (options.payload === 'json-text') assertJsonText('message.payload', message.payload);
}

/** What every transport checks before `publish` sends anything: the topic and each envelope. */
export function assertPublishable(topic: string, messages: readonly Envelope[]): void {
  assertKey('topic', topic);
  for (const message of messages) assertStorableEnvelope(message);
}

/**
 * What every transport checks before `publishJson` sends anything: that each message is a
 * {@link JsonEnvelope} (its text was checked where it was made), the topic, and the fields it sends
 * beside the body, which the outbox reads from columns of their own.
 */
export function assertPublishableJson(topic: string, messages: readonly JsonEnvelope[]): void {
  assertKey('topic', topic);
  for (const message of messages) {
    assertJsonEnvelope(message);
    assertKey('message.id', message.id);
    assertKey('message.type', message.type);
    assertKey('message.topic', message.topic);
    if (message.key !== undefined) assertKey('message.key', message.key);
    if (message.groupId !== undefined) assertKey('message.groupId', message.groupId);
  }
}

/** Throws when text kept as bytes (NUL is fine there) has no UTF-8 form. */
export function assertUnicode(field: string, value: string): void {
  const problem = unicodeProblem(value);
  if (problem !== undefined) throw new InvalidMessagingValueError(field, problem);
}
