export type {
  BeginResult,
  IdempotencyRecord,
  IdempotencyRecordCompleted,
  IdempotencyRecordInProgress,
  IdempotencyStore,
} from './idempotency-store.js';
