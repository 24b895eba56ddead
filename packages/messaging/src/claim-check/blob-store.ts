import type { Readable } from 'node:stream';

/** Metadata kept with a blob. */
export interface BlobInfo {
  readonly ref: string;
  /** Size of the stored bytes. */
  readonly bytes: number;
  readonly contentType: string;
  /** When the blob may be swept, ms since the epoch; absent when it never expires. */
  readonly expiresAt?: number;
}

/**
 * What {@link BlobStore.put} accepts: bytes in memory, a Node stream or any async iterable of
 * byte chunks (a web `ReadableStream` can be passed through `Readable.fromWeb`).
 */
export type BlobBody = Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>;

/** Options of {@link BlobStore.put}. */
export interface PutBlobOptions {
  /** @defaultValue `'application/octet-stream'` */
  contentType?: string;
  /** Time to live; the blob may be swept by {@link BlobStore.sweepExpired} after it. No TTL: kept until deleted. */
  ttlMs?: number;
  signal?: AbortSignal;
}

/** Options of the reading and deleting calls of a {@link BlobStore}. */
export interface BlobCallOptions {
  signal?: AbortSignal;
}

/**
 * Stores the payloads that a claim check moves out of messages.
 *
 * Guarantees every implementation gives (checked by `blobStoreConformance` in
 * `@bulwark/messaging/testing`):
 * - **Refs**: chosen by the caller (the claim check makes them unguessable) and checked with
 *   {@link assertValidBlobRef}: segments of `[A-Za-z0-9._-]` separated by `/`, no segment
 *   starting with a dot, no absolute or encoded paths. A ref that could escape the store's
 *   namespace is rejected with `InvalidBlobRefError` before any I/O.
 * - **Atomic put**: a reader never sees a half-written blob; a put whose body fails or is
 *   aborted leaves nothing visible under the ref. A put to an existing ref replaces it whole.
 * - **Expiry**: a blob whose TTL has passed may be deleted by `sweepExpired` (reads still see it
 *   until then). The S3 adapter can also leave expiry to a bucket lifecycle rule.
 * - **Missing** blobs read as `undefined`; deleting a missing blob is not an error.
 * - `close()` releases what the store opened itself; it never closes a client the user passed in.
 *
 * Implementations: `memoryBlobStore()` and `fsBlobStore({ dir })` in the core entry,
 * `s3BlobStore(minioClient, { bucket })` in `@bulwark/messaging/s3`.
 */
export interface BlobStore {
  /** A short name such as `memory`, `fs`, `s3`. */
  readonly name: string;
  /** Stores `body` under `ref`, streaming where the body is a stream. */
  put(ref: string, body: BlobBody, options?: PutBlobOptions): Promise<BlobInfo>;
  /** Reads a whole blob; `undefined` when it does not exist. */
  get(ref: string, options?: BlobCallOptions): Promise<Buffer | undefined>;
  /** Streams a blob; `undefined` when it does not exist. */
  getStream(ref: string, options?: BlobCallOptions): Promise<Readable | undefined>;
  /** The blob's metadata; `undefined` when it does not exist. */
  head(ref: string, options?: BlobCallOptions): Promise<BlobInfo | undefined>;
  /** Deletes a blob; a no-op when it does not exist. */
  delete(ref: string, options?: BlobCallOptions): Promise<void>;
  /** Deletes blobs whose time to live has passed; returns how many. */
  sweepExpired(options?: BlobCallOptions): Promise<number>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
