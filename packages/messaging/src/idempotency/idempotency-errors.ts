import { MessagingError } from '../errors/messaging-error.js';

/**
 * Thrown by {@link Idempotency.run} when another caller holds a live lease on the key: the first
 * request with this key is still running. Retry later; HTTP maps it to `409 Conflict`.
 */
export class IdempotencyConflictError extends MessagingError {
  override name = 'IdempotencyConflictError';
  constructor(
    /** The idempotency key in conflict. */
    readonly key: string,
    /** When the holder's lease runs out (ms since the epoch) and the key may be taken over. */
    readonly leaseExpiresAt: number,
  ) {
    super('IDEMPOTENCY_CONFLICT', `Idempotency key "${key}" is in use by a request still in progress`);
  }
}

/**
 * Thrown by {@link Idempotency.run} when a key is reused with another fingerprint (another
 * payload): the key identifies a different operation. HTTP maps it to `422 Unprocessable Content`.
 */
export class IdempotencyKeyReuseError extends MessagingError {
  override name = 'IdempotencyKeyReuseError';
  constructor(
    /** The reused idempotency key. */
    readonly key: string,
  ) {
    super('IDEMPOTENCY_KEY_REUSE', `Idempotency key "${key}" was already used with a different payload`);
  }
}

/**
 * Thrown on a replay of an outcome that ended in an error which the `rememberError` option chose
 * to store. Carries what was kept of the original error.
 */
export class IdempotentReplayedError extends MessagingError {
  override name = 'IdempotentReplayedError';
  constructor(
    /** The idempotency key whose stored error is replayed. */
    readonly key: string,
    /** What was stored of the original error (by default its name, message and code). */
    readonly original: StoredError,
  ) {
    super('IDEMPOTENCY_REPLAYED_ERROR', original.message);
  }
}

/** The default, JSON-safe record of a remembered error. */
export interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

/** An idempotency store was used after `close()`. */
export class IdempotencyStoreClosedError extends MessagingError {
  override name = 'IdempotencyStoreClosedError';
  constructor(
    /** The store, e.g. `redisIdempotencyStore`. */
    readonly store: string,
  ) {
    super('IDEMPOTENCY_STORE_CLOSED', `${store} is closed`);
  }
}
