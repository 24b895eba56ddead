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
 * Stores idempotency keys and their outcomes. Used by {@link idempotency}, the HTTP
 * `Idempotency-Key` layer and the consumer inbox.
 *
 * Guarantees every implementation gives (checked by `idempotencyStoreConformance` in
 * `@bulwark/messaging/testing`):
 * - Every method is atomic on its key: of any number of concurrent `begin` calls for a key
 *   without a live record, exactly one acquires it; the others get the record.
 * - A record is live while its lease (in progress) or its ttl (completed) has not run out; a
 *   record that is not live is as good as absent: `get` does not return it and `begin` takes the
 *   key over with a new lease token.
 * - Only the current lease token completes, releases or renews a key, and only while its lease
 *   is live: a holder whose lease ran out can never overwrite its successor's outcome.
 * - Outcomes and fingerprints are kept exactly (any Unicode text, any size the backend allows).
 * - `close()` stops the store; it never closes a client the user passed in.
 *
 * Implementations: memory (core), Redis (`/redis`), PostgreSQL (`/postgres`).
 */
export interface IdempotencyStore {
  /**
   * Acquires `key` for `leaseMs` unless a live record exists, whatever its fingerprint; comparing
   * fingerprints is the caller's job. An expired lease (its holder presumably crashed) is taken over.
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
