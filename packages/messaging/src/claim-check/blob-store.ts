import type { Readable } from 'node:stream';

/** Metadata kept with a blob. */
export interface BlobInfo {
  readonly ref: string;
  readonly bytes: number;
  readonly contentType: string;
  /** When the blob may be swept, ms since the epoch; absent when it never expires. */
  readonly expiresAt?: number;
}

/** Options of {@link BlobStore.put}. */
export interface PutBlobOptions {
  contentType?: string;
  /** Time to live; the blob may be swept after it. */
  ttlMs?: number;
  signal?: AbortSignal;
}

/**
 * Stores the payloads that a claim check moves out of messages. `ref`s are chosen by the
 * caller (the claim check makes them unguessable) and must be valid in the store's namespace;
 * a ref that would escape it (e.g. `../`) is rejected with an error. `put` is atomic: a reader
 * never sees a half-written blob. Implementations: memory and filesystem (core), S3 through
 * the `minio` client (`/s3`).
 */
export interface BlobStore {
  put(ref: string, body: Buffer | Uint8Array | Readable, options?: PutBlobOptions): Promise<BlobInfo>;
  /** Reads a whole blob; undefined when it does not exist. */
  get(ref: string, options?: { signal?: AbortSignal }): Promise<Buffer | undefined>;
  /** Streams a blob; undefined when it does not exist. */
  getStream(ref: string, options?: { signal?: AbortSignal }): Promise<Readable | undefined>;
  head(ref: string, options?: { signal?: AbortSignal }): Promise<BlobInfo | undefined>;
  delete(ref: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Deletes blobs whose time to live has passed; returns how many. */
  sweepExpired(options?: { signal?: AbortSignal }): Promise<number>;
  close(): Promise<void>;
}
