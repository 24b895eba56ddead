import type { ClaimCheckIntegrityReason } from './claim-check-errors.js';

/** Events of a `claimCheck`, by name. */
export interface ClaimCheckEvents {
  /** A payload (or stream) moved to the store. */
  'claim-checked-in': { readonly ref: string; readonly bytes: number; readonly streamed: boolean };
  /** A payload came back verified (for streams: once the whole stream was read and verified). */
  'claim-checked-out': { readonly ref: string; readonly bytes: number; readonly streamed: boolean };
  /** A check-out was refused: the blob is missing, altered or the claim is malformed. */
  'claim-integrity-failed': { readonly ref: string; readonly reason: ClaimCheckIntegrityReason };
}
