import type { Envelope } from './envelope.js';

/** Turns envelopes into bytes and back. Transports use JSON unless given another. */
export interface Serializer {
  /** MIME type of the bytes, e.g. `application/json`. */
  readonly contentType: string;
  serialize(envelope: Envelope): Buffer;
  deserialize(bytes: Buffer | Uint8Array | string): Envelope;
}

/** UTF-8 text of `bytes` without copying them first (`Buffer.from(uint8Array)` copies). */
const textOf = (bytes: Buffer | Uint8Array): string =>
  Buffer.isBuffer(bytes)
    ? bytes.toString('utf8')
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/** The default serializer: UTF-8 JSON of the whole envelope. */
export const jsonSerializer: Serializer = {
  contentType: 'application/json',
  serialize: (envelope) => Buffer.from(JSON.stringify(envelope)),
  deserialize: (bytes) => JSON.parse(typeof bytes === 'string' ? bytes : textOf(bytes)) as Envelope,
};
