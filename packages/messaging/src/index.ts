/**
 * Messaging without loss or duplicates: the envelope, transports, consumers with retries and
 * dead letters, the transactional outbox, the inbox, idempotency, claim check and async reply.
 *
 * @module @bulwark/messaging
 */

// Async reply (issue: outbox and async reply).
export * from './async-reply/index.js';
// Claim check (issue: idempotency and claim check).
export * from './claim-check/index.js';
export * from './consumer/index.js';
export * from './dead-letter/index.js';
export * from './envelope/index.js';
export * from './errors/index.js';
export * from './events/index.js';
// Idempotency (issue: idempotency and claim check).
export * from './idempotency/index.js';

// Outbox (issue: outbox) — the PostgreSQL outbox lives in ./postgres.
export * from './outbox/index.js';
// Transports and the consumer (issue: transports).
export * from './transport/index.js';
