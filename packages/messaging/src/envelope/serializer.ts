import type { Envelope } from './envelope.js';

/** Turns envelopes into bytes and back. Transports use JSON unless given another. */
export interface Serializer {
  /** MIME type of the bytes, e.g. `application/json`. */
  readonly contentType: string;
  serialize(envelope: Envelope): Buffer;
  deserialize(bytes: Buffer | Uint8Array | string): Envelope;
}

/** The default serializer: UTF-8 JSON of the whole envelope. */
export const jsonSerializer: Serializer = {
  contentType: 'application/json',
  serialize: (envelope) => Buffer.from(JSON.stringify(envelope)),
  deserialize: (bytes) =>
    JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8')) as Envelope,
};
