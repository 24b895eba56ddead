/** Events of an {@link Idempotency} instance, by name. `key` is the key as the caller passed it. */
export interface IdempotencyEvents {
  /** The caller acquired the key and its work is about to run. */
  'idempotency-acquired': { readonly key: string };
  /** A stored outcome was returned without running the work. */
  'idempotency-replayed': { readonly key: string };
  /** Refused: another caller still holds the key. */
  'idempotency-conflicted': { readonly key: string; readonly leaseExpiresAt: number };
  /** Refused: the key was used with another fingerprint. */
  'idempotency-key-reused': { readonly key: string };
  /** The work's outcome (a value or a remembered error) is stored. */
  'idempotency-completed': { readonly key: string; readonly durationMs: number };
  /** The work threw an error that is not remembered: the key is free again. */
  'idempotency-released': { readonly key: string; readonly error: unknown };
  /**
   * The work ran but its outcome could not be stored: the lease was lost (the work outlived
   * `lockTtlMs`) or the store failed. A retry with this key may run the work again.
   */
  'idempotency-outcome-lost': {
    readonly key: string;
    readonly reason: 'lease-lost' | 'store-failed';
    readonly error?: unknown;
  };
}
