import { InvalidBlobRefError } from './claim-check-errors.js';

/** Longest ref accepted, in characters (S3 keys stop at 1,024 bytes and stores may add a prefix). */
export const MAX_BLOB_REF_LENGTH = 512;

// A segment starts with a letter, digit, `_` or `-`: that rules out `.`, `..` and hidden names,
// and the alphabet leaves out `%`, `\`, `:` and NUL, so no encoded or platform-specific escape.
const segmentPattern = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/**
 * Checks that `ref` is a safe blob ref: `/`-separated segments of `[A-Za-z0-9._-]`, none empty
 * and none starting with a dot, at most {@link MAX_BLOB_REF_LENGTH} characters. Refs that
 * could escape a store (`../x`, `/etc/passwd`, `a/%2e%2e/b`, `C:\x`) are rejected.
 *
 * @throws InvalidBlobRefError
 */
export function assertValidBlobRef(ref: unknown): asserts ref is string {
  if (typeof ref !== 'string') throw new InvalidBlobRefError(String(ref), 'a ref must be a string');
  if (ref.length === 0) throw new InvalidBlobRefError(ref, 'a ref must not be empty');
  if (ref.length > MAX_BLOB_REF_LENGTH) {
    throw new InvalidBlobRefError(ref, `a ref must be at most ${MAX_BLOB_REF_LENGTH} characters`);
  }
  for (const segment of ref.split('/')) {
    if (!segmentPattern.test(segment)) {
      throw new InvalidBlobRefError(
        ref,
        segment === ''
          ? 'a ref must not be absolute or contain empty segments'
          : `segment ${JSON.stringify(segment)} must be 1–200 of [A-Za-z0-9._-] and not start with a dot`,
      );
    }
  }
}
