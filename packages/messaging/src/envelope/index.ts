export type { CreateEnvelopeOptions, Envelope, EnvelopeInit, MessageHeaders } from './envelope.js';
export { createEnvelope } from './envelope.js';
export type { JsonEnvelope } from './json-envelope.js';
export { isJsonEnvelope, parseJsonEnvelope } from './json-envelope.js';
export type { Serializer } from './serializer.js';
export { jsonSerializer } from './serializer.js';
export { toJsonEnvelope } from './to-json-envelope.js';
