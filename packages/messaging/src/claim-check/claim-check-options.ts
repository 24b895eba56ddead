import { OptionsValidator } from '@bulwark/resilience';
import { assertValidBlobRef } from './blob-ref.js';
import type { BlobStore } from './blob-store.js';

/** Options of {@link claimCheck}. */
export interface ClaimCheckOptions {
  /** Where checked-in payloads go. The claim check never closes it. */
  store: BlobStore;
  /**
   * Payloads whose serialized size is greater than this many bytes move to the store; the
   * rest stay inline. Leave headroom under your broker's limit (SQS 256 KiB, Kafka 1 MiB).
   * @defaultValue `262_144` (256 KiB)
   */
  thresholdBytes?: number;
  /**
   * Time to live of checked-in blobs; `sweepExpired()` (or an S3 lifecycle rule) removes them
   * after it. Make it longer than the longest time a message can wait (retries, DLQ, replay).
   * @defaultValue `undefined` — blobs never expire
   */
  ttlMs?: number;
  /**
   * Delete the blob after a successful check-out. Off by default: with fan-out (several
   * consumer groups, retries, replays) another reader may still need it.
   * @defaultValue `false`
   */
  deleteAfterCheckOut?: boolean;
  /**
   * Put before every generated ref, e.g. `claims/`; the result must pass `assertValidBlobRef`.
   * @defaultValue `''`
   */
  refPrefix?: string;
}

/** The defaults of {@link ClaimCheckOptions}. */
export const claimCheckDefaults = {
  thresholdBytes: 256 * 1024,
  deleteAfterCheckOut: false,
  refPrefix: '',
} as const;

/** Validates options eagerly, reporting every problem at once. */
export function validateClaimCheckOptions(options: ClaimCheckOptions): void {
  const validator = new OptionsValidator('claimCheck');
  const store = options?.store as Partial<BlobStore> | undefined;
  if (!store || typeof store.put !== 'function' || typeof store.getStream !== 'function') {
    validator.report('store must be a BlobStore');
  }
  const { thresholdBytes, ttlMs, refPrefix } = options ?? {};
  if (thresholdBytes !== undefined && !(Number.isInteger(thresholdBytes) && thresholdBytes >= 0)) {
    validator.report(`thresholdBytes must be an integer >= 0, got ${thresholdBytes}`);
  }
  if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
    validator.report(`ttlMs must be a positive number, got ${ttlMs}`);
  }
  if (refPrefix !== undefined) {
    try {
      assertValidBlobRef(`${refPrefix}x`);
    } catch {
      validator.report(
        `refPrefix must be the start of a valid blob ref, e.g. "claims/", got ${JSON.stringify(refPrefix)}`,
      );
    }
  }
  validator.throwIfInvalid();
}
