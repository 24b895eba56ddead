import { randomUUID } from 'node:crypto';

import { createWriteStream } from 'node:fs';

import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';

import { dirname, join, resolve, sep } from 'node:path';

import { Readable } from 'node:stream';

import { pipeline } from 'node:stream/promises';

import { type Clock, InvalidOptionsError, systemClock } from '@bulwark/resilience';

import { assertValidContentType, blobChunks, DEFAULT_BLOB_CONTENT_TYPE, discardBody, expiryOf } from './blob-body.js';

import { assertValidBlobRef } from './blob-ref.js';

import type { BlobInfo, BlobStore } from './blob-store.js';

import { InvalidBlobRefError } from './claim-check-errors.js';

/** Options of {@link fsBlobStore}. */
export interface FsBlobStoreOptions {
  /** The directory that holds the blobs; created when missing. Keep it to this store alone. */
  dir: string;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * `sweepExpired` also deletes temp files older than this (by modification time): puts cut
   * short by a crash leave them behind. Keep it longer than your slowest upload.
   * @defaultValue `86_400_000` (24 h)
   */
  staleTempMs?: number;
}

/** What the metadata sidecar (`<ref>.meta.json`) holds. */
interface BlobSidecar {
  contentType: string;
  bytes: number;
  expiresAt?: number;
}

const DATA_SUFFIX = '.blob';
const META_SUFFIX = '.meta.json';
// Refs cannot start a segment with a dot, so this directory never collides with a blob.
const TEMP_DIRECTORY = '.tmp';

const isNotFound = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/**
 * A {@link BlobStore} on the local filesystem (or a shared mount). Each blob is two files:
 * `<dir>/<ref>.blob` with the bytes and `<dir>/<ref>.meta.json` beside it with the content
 * type, size and expiry.
 *
 * - **Atomic**: bodies are streamed to a temp file under `<dir>/.tmp/`, flushed to disk and
 *   renamed into place (sidecar first, bytes last), so a blob is visible only once whole; a
 *   failed or aborted put removes its temp files.
 * - **Confined**: refs are checked by `assertValidBlobRef` and every resolved path is checked
 *   to stay under `dir`, so `../../etc/passwd`, absolute and encoded refs throw
 *   `InvalidBlobRefError`.
 * - **Expiry**: `sweepExpired()` walks the sidecars and deletes blobs past their `expiresAt`,
 *   and temp files older than `staleTempMs` (left by puts a crash cut short).
 *
 * @example
 * ```ts
 * const store = fsBlobStore({ dir: '.data/claims' });
 * const checks = claimCheck({ store, thresholdBytes: 256 * 1024, ttlMs: 7 * 24 * 3_600_000 });
 * ```
 */
export function fsBlobStore(options: FsBlobStoreOptions): BlobStore {
  if (typeof options?.dir !== 'string' || options.dir === '') {
    throw new InvalidOptionsError('fsBlobStore', ['dir must be a non-empty path']);
  }
  const clock = options.clock ?? systemClock;
  const staleTempMs = options.staleTempMs ?? 86_400_000;
  if (!(staleTempMs > 0)) {
    throw new InvalidOptionsError('fsBlobStore', [`staleTempMs must be a positive number, got ${staleTempMs}`]);
  }
  const root = resolve(options.dir);
  const tempDirectory = join(root, TEMP_DIRECTORY);
  let ready: Promise<unknown> | undefined;
  const ensureRoot = () => {
    ready ??= mkdir(tempDirectory, { recursive: true }).catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };

  /** The path of `ref` + `suffix`, checked to stay inside the root (defence in depth). */
  const pathOf = (ref: string, suffix: string): string => {
    assertValidBlobRef(ref);
    const path = resolve(root, ref + suffix);
    if (!path.startsWith(root + sep)) throw new InvalidBlobRefError(ref, 'the ref resolves outside the store');
    return path;
  };

  const readSidecar = async (metaPath: string): Promise<BlobSidecar | undefined> => {
    try {
      return JSON.parse(await readFile(metaPath, 'utf8')) as BlobSidecar;
    } catch (error) {
      if (isNotFound(error) || error instanceof SyntaxError) return undefined;
      throw error;
    }
  };

  const removeBlob = async (ref: string) => {
    // Bytes first: once they are gone the blob is invisible, whatever happens to the sidecar.
    await rm(pathOf(ref, DATA_SUFFIX), { force: true });
    await rm(pathOf(ref, META_SUFFIX), { force: true });
  };

  const store: BlobStore = {
    name: 'fs',
    async put(ref, body, putOptions = {}) {
      let dataPath: string;
      let metaPath: string;
      let expiresAt: number | undefined;
      try {
        dataPath = pathOf(ref, DATA_SUFFIX);
        metaPath = pathOf(ref, META_SUFFIX);
        assertValidContentType(putOptions.contentType);
        expiresAt = expiryOf(clock.now(), putOptions.ttlMs);
        putOptions.signal?.throwIfAborted();
        await ensureRoot();
      } catch (error) {
        discardBody(body, error);
        throw error;
      }
      const temp = join(tempDirectory, randomUUID());
      const dataTemp = `${temp}${DATA_SUFFIX}`;
      const metaTemp = `${temp}${META_SUFFIX}`;
      try {
        let bytes = 0;
        const counted = async function* () {
          for await (const chunk of blobChunks(body, putOptions.signal)) {
            bytes += chunk.byteLength;
            yield chunk;
          }
        };
        const pipelineOptions = putOptions.signal ? { signal: putOptions.signal } : {};
        // highWaterMark 1: hold one chunk ahead of the disk, not 16 (Readable.from's default).
        // flush: fsync before close, so a crash after the rename cannot leave a torn file.
        await pipeline(
          Readable.from(counted(), { highWaterMark: 1 }),
          createWriteStream(dataTemp, { flush: true }),
          pipelineOptions,
        );
        const sidecar: BlobSidecar = {
          contentType: putOptions.contentType ?? DEFAULT_BLOB_CONTENT_TYPE,
          bytes,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        };
        await writeFile(metaTemp, JSON.stringify(sidecar), { flush: true });
        putOptions.signal?.throwIfAborted();
        await mkdir(dirname(dataPath), { recursive: true });
        // Sidecar first, bytes last: the bytes' rename is the moment the blob appears whole.
        await rename(metaTemp, metaPath);
        await rename(dataTemp, dataPath);
        return { ref, ...sidecar };
      } catch (error) {
        discardBody(body, error);
        await Promise.all([rm(dataTemp, { force: true }), rm(metaTemp, { force: true })]);
        // Cancellation rejects with the caller's reason, not the stream's AbortError.
        if (putOptions.signal?.aborted) throw putOptions.signal.reason;
        throw error;
      }
    },
    async get(ref, callOptions) {
      const dataPath = pathOf(ref, DATA_SUFFIX);
      const signal = callOptions?.signal;
      signal?.throwIfAborted();
      try {
        return await readFile(dataPath, signal ? { signal } : {});
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async getStream(ref, callOptions) {
      const dataPath = pathOf(ref, DATA_SUFFIX);
      callOptions?.signal?.throwIfAborted();
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(dataPath, 'r');
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      // The open handle keeps reading the blob even if it is deleted or replaced meanwhile.
      const stream = handle.createReadStream({ highWaterMark: 256 * 1024 });
      const signal = callOptions?.signal;
      if (signal) {
        const onAbort = () => stream.destroy(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        stream.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      return stream;
    },
    async head(ref, callOptions) {
      const dataPath = pathOf(ref, DATA_SUFFIX);
      const metaPath = pathOf(ref, META_SUFFIX);
      callOptions?.signal?.throwIfAborted();
      let bytes: number;
      try {
        bytes = (await stat(dataPath)).size;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      const sidecar = await readSidecar(metaPath);
      const info: BlobInfo = {
        ref,
        bytes,
        contentType: sidecar?.contentType ?? DEFAULT_BLOB_CONTENT_TYPE,
        ...(sidecar?.expiresAt === undefined ? {} : { expiresAt: sidecar.expiresAt }),
      };
      return info;
    },
    async delete(ref, callOptions) {
      pathOf(ref, DATA_SUFFIX);
      callOptions?.signal?.throwIfAborted();
      await removeBlob(ref);
    },
    async sweepExpired(callOptions) {
      const signal = callOptions?.signal;
      signal?.throwIfAborted();
      const now = clock.now();
      let swept = 0;
      let entries: string[];
      try {
        entries = (await readdir(root, { recursive: true })) as string[];
      } catch (error) {
        if (isNotFound(error)) return 0;
        throw error;
      }
      for (const entry of entries) {
        signal?.throwIfAborted();
        if (entry.startsWith(TEMP_DIRECTORY + sep)) {
          // Left by a put that a crash cut short; a live put touches its file as it writes.
          const path = join(root, entry);
          const modified = await stat(path).then(
            (stats) => stats.mtimeMs,
            () => undefined,
          );
          if (modified !== undefined && modified + staleTempMs <= now) await rm(path, { force: true });
          continue;
        }
        if (!entry.endsWith(META_SUFFIX)) continue;
        const ref = entry.slice(0, -META_SUFFIX.length).split(sep).join('/');
        const sidecar = await readSidecar(join(root, entry));
        if (sidecar?.expiresAt === undefined || sidecar.expiresAt > now) continue;
        try {
          await removeBlob(ref);
        } catch (error) {
          // A file that is not a blob of ours (an invalid ref) is left alone.
          if (error instanceof InvalidBlobRefError) continue;
          throw error;
        }
        swept++;
      }
      return swept;
    },
    async close() {},
    [Symbol.asyncDispose]() {
      return store.close();
    },
  };
  return store;
}
