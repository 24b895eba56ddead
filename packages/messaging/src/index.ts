/**
 * Messaging without loss or duplicates: the envelope, transports, consumers with retries and
 * dead letters, the transactional outbox, the inbox, idempotency, claim check and async reply.
 *
 * @module @bulwark/messaging
 */

export * from './async-reply/index.js';
export * from './cache-invalidation/index.js';
export * from './claim-check/index.js';
export * from './consumer/index.js';
export * from './dead-letter/index.js';
export * from './envelope/index.js';
export * from './errors/index.js';
export * from './event-log/index.js';
export * from './idempotency/index.js';

export * from './outbox/index.js';
export * from './projection/index.js';
export * from './transport/index.js';
