import type { Envelope } from './envelope.js';

/**
 * An envelope that is already JSON text, as a store keeps it (the outbox's `jsonb` column), with
 * the fields a relay routes by and a transport sends beside the body, so that neither has to
 * parse it. Transports that publish it as it is declare `publishJson`.
 */
export interface JsonEnvelope {
  /**
   * The whole envelope as UTF-8 JSON: what `JSON.stringify` makes of it, give or take key order
   * and whitespace (PostgreSQL's `jsonb` text orders keys by length and puts a space after `:` and
   * `,`). Consumers read the same envelope either way. It must hold an envelope fit to store
   * (`outbox.add` checked it): transports check only the fields below.
   */
  readonly json: string;
  readonly id: Envelope['id'];
  readonly topic: Envelope['topic'];
  readonly type: Envelope['type'];
  readonly key?: Envelope['key'];
  readonly groupId?: Envelope['groupId'];
  /** The envelope's `headers.correlationId`. */
  readonly correlationId?: string;
}

/** The envelope a {@link JsonEnvelope} holds, for paths that need all of it (a claim check, tracing). */
export function parseJsonEnvelope(message: JsonEnvelope): Envelope {
  return JSON.parse(message.json) as Envelope;
}
