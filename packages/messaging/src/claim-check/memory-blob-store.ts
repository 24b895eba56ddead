import { Readable } from 'node:stream';
import { type Clock, systemClock } from '@bulwark/resilience';
import { assertValidContentType, blobChunks, DEFAULT_BLOB_CONTENT_TYPE, expiryOf } from './blob-body.js';
import { assertValidBlobRef } from './blob-ref.js';
import type { BlobInfo, BlobStore } from './blob-store.js';

/** Options of {@link memoryBlobStore}. */
export interface MemoryBlobStoreOptions {
  /** @defaultValue `systemClock` */
  clock?: Clock;
}

interface StoredBlob {
  readonly data: Buffer;
  readonly info: BlobInfo;
}

/**
 * A {@link BlobStore} in process memory: for tests, development and single-process setups.
 * Blobs are lost when the process ends.
 *
 * @example
 * ```ts
 * const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 64 * 1024 });
 * ```
 */
export function memoryBlobStore(options: MemoryBlobStoreOptions = {}): BlobStore {
  const clock = options.clock ?? systemClock;
  const blobs = new Map<string, StoredBlob>();

  const store: BlobStore = {
    name: 'memory',
    async put(ref, body, putOptions = {}) {
      assertValidBlobRef(ref);
      assertValidContentType(putOptions.contentType);
      const expiresAt = expiryOf(clock.now(), putOptions.ttlMs);
      const chunks: Buffer[] = [];
      // Collected whole before it becomes visible: a failing body leaves nothing behind.
      for await (const chunk of blobChunks(body, putOptions.signal)) chunks.push(chunk);
      const data = Buffer.concat(chunks);
      const info: BlobInfo = {
        ref,
        bytes: data.byteLength,
        contentType: putOptions.contentType ?? DEFAULT_BLOB_CONTENT_TYPE,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      };
      blobs.set(ref, { data, info });
      return info;
    },
    async get(ref, callOptions) {
      assertValidBlobRef(ref);
      callOptions?.signal?.throwIfAborted();
      const blob = blobs.get(ref);
      return blob ? Buffer.from(blob.data) : undefined;
    },
    async getStream(ref, callOptions) {
      assertValidBlobRef(ref);
      callOptions?.signal?.throwIfAborted();
      const blob = blobs.get(ref);
      if (!blob) return undefined;
      const chunkBytes = 64 * 1024;
      const data = blob.data;
      return Readable.from(
        (function* () {
          for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
            yield data.subarray(offset, offset + chunkBytes);
          }
        })(),
      );
    },
    async head(ref, callOptions) {
      assertValidBlobRef(ref);
      callOptions?.signal?.throwIfAborted();
      return blobs.get(ref)?.info;
    },
    async delete(ref, callOptions) {
      assertValidBlobRef(ref);
      callOptions?.signal?.throwIfAborted();
      blobs.delete(ref);
    },
    async sweepExpired(callOptions) {
      callOptions?.signal?.throwIfAborted();
      const now = clock.now();
      let swept = 0;
      for (const [ref, blob] of blobs) {
        if (blob.info.expiresAt !== undefined && blob.info.expiresAt <= now) {
          blobs.delete(ref);
          swept++;
        }
      }
      return swept;
    },
    async close() {
      blobs.clear();
    },
    [Symbol.asyncDispose]() {
      return store.close();
    },
  };
  return store;
}
