export { canonicalJson, fingerprint } from './fingerprint.js';
export * from './http/index.js';
export type { Idempotency, IdempotentOutcome, IdempotentRunOptions, IdempotentWorkContext } from './idempotency.js';
export { idempotency } from './idempotency.js';
export type { StoredError } from './idempotency-errors.js';
export {
  IdempotencyConflictError,
  IdempotencyKeyReuseError,
  IdempotencyStoreClosedError,
  IdempotentReplayedError,
} from './idempotency-errors.js';
export type { IdempotencyEvents } from './idempotency-events.js';
export type { IdempotencyOptions, OutcomeSerializer } from './idempotency-options.js';
export { idempotencyDefaults } from './idempotency-options.js';
export type {
  BeginResult,
  IdempotencyRecord,
  IdempotencyRecordCompleted,
  IdempotencyRecordInProgress,
  IdempotencyStore,
} from './idempotency-store.js';
export type { MemoryIdempotencyStore, MemoryIdempotencyStoreOptions } from './memory-idempotency-store.js';
export { memoryIdempotencyStore } from './memory-idempotency-store.js';
