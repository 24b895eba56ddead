import { MessagingError } from '../errors/messaging-error.js';

/** Why a claim could not be honoured. */
export type ClaimCheckIntegrityReason = 'hash-mismatch' | 'size-mismatch' | 'missing' | 'invalid-claim';

/**
 * Thrown (or emitted by a checked-out stream) when a claimed blob is missing, does not match
 * the claim's `sha256`/`bytes`, or the claim itself is malformed. The payload must not be used.
 */
export class ClaimCheckIntegrityError extends MessagingError {
  override name = 'ClaimCheckIntegrityError';
  constructor(
    /** The claim's ref (as found in the message; may be invalid when `reason` is `invalid-claim`). */
    readonly ref: string,
    readonly reason: ClaimCheckIntegrityReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('CLAIM_CHECK_INTEGRITY', message, options);
  }
}

/** Thrown when a payload cannot be serialized for check-in (a `BigInt`, a cycle…); nothing is written. */
export class ClaimCheckSerializationError extends MessagingError {
  override name = 'ClaimCheckSerializationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLAIM_CHECK_SERIALIZATION', message, options);
  }
}

/** Thrown by every `BlobStore` when a ref is not valid (e.g. it could escape the store: `../`, `/etc/passwd`). */
export class InvalidBlobRefError extends MessagingError {
  override name = 'InvalidBlobRefError';
  constructor(
    readonly ref: string,
    readonly problem: string,
  ) {
    super('INVALID_BLOB_REF', `Invalid blob ref ${JSON.stringify(ref.slice(0, 200))}: ${problem}`);
  }
}
