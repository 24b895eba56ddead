import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import type { Envelope } from './envelope.js';

/**
 * Marks the envelopes made here, on their prototype: a spread copy (`{ ...message, json }`) loses
 * it. Registered (`Symbol.for`) so that the ESM and CommonJS builds, loaded side by side, agree.
 */
const checkedJson: unique symbol = Symbol.for('@bulwark/messaging.JsonEnvelope');

/**
 * An envelope that is already JSON text, with the fields a relay routes by and a transport sends
 * beside the body, so that neither has to parse it. Transports that publish it as it is declare
 * `publishJson`.
 *
 * Only checked text becomes one: {@link @bulwark/messaging!toJsonEnvelope} parses and checks text
 * from anywhere, and the PostgreSQL outbox makes them from the `jsonb` it stores (PostgreSQL
 * parsed the text, and `outbox.add` checked the envelope). An object written by hand with these
 * fields is not one: TypeScript refuses it, and `publishJson` refuses it at run time with
 * {@link @bulwark/messaging!InvalidMessagingValueError}, before anything is sent.
 */
export interface JsonEnvelope {
  /**
   * The whole envelope as JSON: what `JSON.stringify` makes of it, give or take key order and
   * whitespace (PostgreSQL's `jsonb` text orders keys by length and puts a space after `:` and `,`).
   * `JSON.parse` of it gives, on every path, the envelope a consumer reads.
   */
  readonly json: string;
  readonly id: Envelope['id'];
  readonly topic: Envelope['topic'];
  readonly type: Envelope['type'];
  readonly key?: Envelope['key'];
  readonly groupId?: Envelope['groupId'];
  /** The envelope's `headers.correlationId`. */
  readonly correlationId?: string;
  /**
   * Set only by the makers above: the text was checked.
   * @internal
   */
  readonly [checkedJson]: true;
}

/** What a {@link JsonEnvelope} is made of. */
export type JsonEnvelopeFields = Omit<JsonEnvelope, typeof checkedJson>;

/** The one class of checked JSON envelopes; its prototype carries the mark. */
class CheckedJsonEnvelope implements JsonEnvelope {
  declare readonly [checkedJson]: true;
  readonly json: string;
  readonly id: string;
  readonly topic: string;
  readonly type: string;
  // Declared, not defined: an absent field stays absent, as on an envelope.
  declare readonly key?: string;
  declare readonly groupId?: string;
  declare readonly correlationId?: string;

  constructor(fields: JsonEnvelopeFields) {
    this.json = fields.json;
    this.id = fields.id;
    this.topic = fields.topic;
    this.type = fields.type;
    const optional = this as { -readonly [Field in keyof JsonEnvelopeFields]?: JsonEnvelopeFields[Field] };
    if (fields.key !== undefined) optional.key = fields.key;
    if (fields.groupId !== undefined) optional.groupId = fields.groupId;
    if (fields.correlationId !== undefined) optional.correlationId = fields.correlationId;
  }
}
Object.defineProperty(CheckedJsonEnvelope.prototype, checkedJson, { value: true });

/**
 * A {@link JsonEnvelope} of fields the caller vouches for: text PostgreSQL's `jsonb` wrote out, of
 * an envelope `outbox.add` checked, and the columns written beside it. Not exported from the
 * package: text from anywhere else goes through {@link @bulwark/messaging!toJsonEnvelope}.
 */
export function trustedJsonEnvelope(fields: JsonEnvelopeFields): JsonEnvelope {
  return new CheckedJsonEnvelope(fields);
}

/** A {@link JsonEnvelope} of `json`, which the caller vouches is the text of `message`, with its fields. */
export function trustedJsonEnvelopeOf(message: Envelope, json: string): JsonEnvelope {
  const fields: { -readonly [Field in keyof JsonEnvelopeFields]: JsonEnvelopeFields[Field] } = {
    json,
    id: message.id,
    topic: message.topic,
    type: message.type,
  };
  if (message.key !== undefined) fields.key = message.key;
  if (message.groupId !== undefined) fields.groupId = message.groupId;
  if (message.headers.correlationId !== undefined) fields.correlationId = message.headers.correlationId;
  return new CheckedJsonEnvelope(fields);
}

/**
 * Whether `value` is a {@link JsonEnvelope} made by {@link @bulwark/messaging!toJsonEnvelope} or
 * read from an outbox (a copy is not). A transport that declares `publishJson` refuses anything else.
 */
export function isJsonEnvelope(value: unknown): value is JsonEnvelope {
  return typeof value === 'object' && value !== null && (value as Partial<JsonEnvelope>)[checkedJson] === true;
}

/** Throws {@link InvalidMessagingValueError} when `value` is not a {@link JsonEnvelope} ({@link isJsonEnvelope}). */
export function assertJsonEnvelope(value: unknown): asserts value is JsonEnvelope {
  if (!isJsonEnvelope(value))
    throw new InvalidMessagingValueError(
      'message',
      'is not a JsonEnvelope made by toJsonEnvelope or read from an outbox (its text was never checked)',
    );
}

/**
 * The envelope a {@link JsonEnvelope} holds, for paths that need all of it (a claim check, tracing).
 *
 * @throws {@link @bulwark/messaging!InvalidMessagingValueError} when `message` is not a {@link JsonEnvelope}.
 */
export function parseJsonEnvelope(message: JsonEnvelope): Envelope {
  assertJsonEnvelope(message);
  return JSON.parse(message.json) as Envelope;
}
