/**
 * Conformance suites that every adapter of a kind must pass (ours and third parties').
 *
 * @module @bulwark/messaging/testing
 */

export type { AsyncReplyStoreConformanceOptions } from './async-reply-store-conformance.js';
export { asyncReplyStoreConformance } from './async-reply-store-conformance.js';
export type { BlobStoreConformanceOptions } from './blob-store-conformance.js';
export { blobStoreConformance, invalidBlobRefs } from './blob-store-conformance.js';
export type {
  EventLogConformanceOptions,
  EventLogHarness,
  EventLogHarnessTransaction,
} from './event-log-conformance.js';
export { eventLogConformance } from './event-log-conformance.js';
export type { IdempotencyStoreConformanceOptions, IdempotencyStoreHarness } from './idempotency-store-conformance.js';
export { idempotencyStoreConformance } from './idempotency-store-conformance.js';
export type { TransportConformanceOptions, TransportTestSettings } from './transport-conformance.js';
export { transportConformance } from './transport-conformance.js';
