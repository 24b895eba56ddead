import { assertKeys, assertText, assertUnicode } from '../envelope/storable-values.js';
import type { IdempotencyStore } from './idempotency-store.js';

/**
 * What every {@link IdempotencyStore} checks before it touches its backend, so each refuses the
 * same values with `INVALID_VALUE`: the key is a key, fingerprints and lease tokens are text
 * (NUL-free, well-formed), outcomes are kept as bytes (NUL is fine, lone surrogates are not).
 */
export function assertIdempotencyValues(values: {
  key: string;
  fingerprint?: string;
  leaseToken?: string;
  outcome?: string;
}): void {
  assertKeys({ key: values.key });
  if (values.fingerprint !== undefined) assertText('fingerprint', values.fingerprint);
  if (values.leaseToken !== undefined) assertText('leaseToken', values.leaseToken);
  if (values.outcome !== undefined) assertUnicode('outcome', values.outcome);
}
