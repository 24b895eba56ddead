/** A stored outcome of a finished piece of work. */
export interface IdempotencyRecordCompleted {
  readonly status: 'completed';
  readonly fingerprint: string;
  /** The outcome, serialized by the caller (e.g. JSON); stores keep it opaque. */
  readonly outcome: string;
  /** When the record expires, ms since the epoch. */
  readonly expiresAt: number;
}

/** A piece of work in progress, held under a lease. */
export interface IdempotencyRecordInProgress {
  readonly status: 'in-progress';
  readonly fingerprint: string;
  /** Identifies the holder of the lease, so only it can complete or release it. */
  readonly leaseToken: string;
  /** When the lease runs out and another caller may take the key over. */
  readonly leaseExpiresAt: number;
}

export type IdempotencyRecord = IdempotencyRecordCompleted | IdempotencyRecordInProgress;

/** The answer to {@link IdempotencyStore.begin}. */
export type BeginResult =
  /** The caller now holds the lease and must run the work. */
  | { readonly kind: 'acquired'; readonly leaseToken: string }
  /** Someone else holds a live lease, or a record exists: here it is. */
  | { readonly kind: 'existing'; readonly record: IdempotencyRecord };

/**
 * Stores idempotency keys and their outcomes. Every method is atomic on its key: of any number
 * of concurrent `begin` calls for a key without a live record, exactly one acquires it.
 * Implementations: memory (core), Redis (`/redis`), PostgreSQL (`/postgres`); each passes the
 * conformance suite in `@bulwark/messaging/testing`.
 */
export interface IdempotencyStore {
  /**
   * Acquires `key` for `leaseMs` unless a completed record or a live lease exists. An expired
   * lease (its holder presumably crashed) is taken over.
   */
  begin(key: string, fingerprint: string, leaseMs: number, options?: { signal?: AbortSignal }): Promise<BeginResult>;
  /** Stores the outcome for `ttlMs` if `leaseToken` still holds the key; false if it does not. */
  complete(
    key: string,
    leaseToken: string,
    outcome: string,
    ttlMs: number,
    options?: { signal?: AbortSignal },
  ): Promise<boolean>;
  /** Drops the lease so the key may be tried again; false if `leaseToken` no longer holds it. */
  release(key: string, leaseToken: string, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Extends a live lease; false if `leaseToken` no longer holds it. */
  renew?(key: string, leaseToken: string, leaseMs: number, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Reads the record of `key`, if any live one exists. */
  get(key: string, options?: { signal?: AbortSignal }): Promise<IdempotencyRecord | undefined>;
  /** Deletes `key` whatever its state. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Releases what the store itself opened; never closes a client the user passed in. */
  close(): Promise<void>;
}
