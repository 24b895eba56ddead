import { InvalidMessagingValueError } from '../errors/messaging-error.js';
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

/**
 * `serializer.serialize(message)` for a publish, with what it throws (a BigInt, a cycle, nesting
 * too deep for V8 to write out) as an {@link InvalidMessagingValueError}: the message cannot be
 * sent, and transports serialize a call's messages before they send any of them.
 */
export function serializeToPublish(serializer: Serializer, message: Envelope): Buffer {
  try {
    return serializer.serialize(message);
  } catch (error) {
    if (error instanceof InvalidMessagingValueError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidMessagingValueError('message', `cannot be serialized (${reason})`, { cause: error });
  }
}
