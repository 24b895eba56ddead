/**
 * Conformance suites that every adapter of a kind must pass (ours and third parties').
 *
 * @packageDocumentation
 */

// Idempotency (issue: idempotency and claim check).
export type { IdempotencyStoreCapabilities, IdempotencyStoreHarness } from './idempotency-store-conformance.js';
export { idempotencyStoreConformance } from './idempotency-store-conformance.js';
