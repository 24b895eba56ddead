import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import type { BlobBody } from './blob-store.js';

const toBuffer = (chunk: Uint8Array | string): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(chunk)
    : Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);

/**
 * Iterates the chunks of a blob body as Buffers. When `signal` aborts, the iteration rejects
 * with `signal.reason` at once, even while the body is waiting for data, and the body is released.
 */
export async function* blobChunks(body: BlobBody, signal?: AbortSignal): AsyncGenerator<Buffer> {
  signal?.throwIfAborted();
  if (body instanceof Uint8Array) {
    yield toBuffer(body);
    return;
  }
  const iterator = (body as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  if (!signal) {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield toBuffer(next.value);
    return;
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  let finished = false;
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) {
        finished = true;
        return;
      }
      yield toBuffer(next.value);
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if (!finished) {
      discardBody(body, signal.aborted ? signal.reason : undefined);
      // Not awaited: an async generator busy in next() would only run return() after it.
      iterator.return?.()?.catch(() => undefined);
    }
  }
}

/** Destroys a Node stream body that a failed put did not consume, so its source is released. */
export function discardBody(body: BlobBody, error: unknown): void {
  const destroyable = body as { destroy?: (error?: Error) => void; destroyed?: boolean };
  if (typeof destroyable.destroy === 'function' && !destroyable.destroyed) {
    destroyable.destroy(error instanceof Error ? error : undefined);
  }
}

/** `application/octet-stream`, the content type of a blob put without one. */
export const DEFAULT_BLOB_CONTENT_TYPE = 'application/octet-stream';

/** Checks a TTL given to `put`; returns the expiry time or undefined. */
export function expiryOf(nowMs: number, ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new InvalidMessagingValueError('ttlMs', `must be a positive number, got ${ttlMs}`);
  return nowMs + ttlMs;
}

// A media type is visible ASCII (RFC 9110 tokens, parameters and quoted strings); S3 sends it as an
// HTTP header, which takes nothing else.
const contentTypePattern = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/** Throws `INVALID_VALUE` for a content type not every store can keep (S3 sends it as a header). */
export function assertValidContentType(contentType: string | undefined): void {
  if (contentType === undefined || contentTypePattern.test(contentType)) return;
  throw new InvalidMessagingValueError(
    'contentType',
    'must be 1 to 255 characters of visible ASCII and spaces, as an HTTP header value',
  );
}
