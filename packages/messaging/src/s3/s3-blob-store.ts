import type { Readable } from 'node:stream';
import { type Clock, OptionsValidator, systemClock, within } from '@bulwark/resilience';
import type { Client } from 'minio';
import {
  assertValidContentType,
  blobChunks,
  DEFAULT_BLOB_CONTENT_TYPE,
  discardBody,
  expiryOf,
} from '../claim-check/blob-body.js';
import { assertValidBlobRef } from '../claim-check/blob-ref.js';
import type { BlobCallOptions, BlobInfo, BlobStore } from '../claim-check/blob-store.js';
import { MessagingError } from '../errors/messaging-error.js';

/** Options of {@link s3BlobStore}. */
export interface S3BlobStoreOptions {
  /** The bucket; it must exist. */
  bucket: string;
  /**
   * Put before every ref to make the object key, e.g. `claims/`. Give each store its own prefix
   * (and a lifecycle rule on it, see {@link s3BlobStore}).
   * @defaultValue `''`
   */
  prefix?: string;
  /**
   * Size of the parts of a multipart upload: bodies up to this size go in one `PUT`, bigger ones
   * in parts of at least this size. Memory held by a put is about one part. S3 requires 5 MiB
   * at least, and allows 10,000 parts (so 8 MiB parts carry blobs up to ~78 GiB).
   * @defaultValue `8 * 1024 * 1024`
   */
  partSizeBytes?: number;
  /**
   * Longest wait for one S3 request (a `PUT`, a part, a `HEAD`, a `DELETE`, the start of a `GET`),
   * and, in `get`, between two chunks of a body. Past it the call rejects with a `MessagingError`
   * of code `S3_TIMEOUT`; other failures of the server or the network reject with `S3_FAILED`
   * (the minio error as `cause`). The minio client has no timeout of its own: on a server that
   * went silent a request would otherwise wait forever. (A stream from `getStream` is the
   * caller's to read: bound its reads yourself.)
   * @defaultValue `30_000`
   */
  requestTimeoutMs?: number;
  /** @defaultValue `systemClock` */
  clock?: Clock;
}

/** User metadata key (sent as `X-Amz-Meta-Bulwark-Expires-At`) holding the expiry in ms since the epoch. */
export const S3_EXPIRES_AT_METADATA = 'bulwark-expires-at';

const MIN_PART_BYTES = 5 * 1024 * 1024;
const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** HEAD requests in flight at once while sweeping. */
const SWEEP_HEAD_CONCURRENCY = 16;
/** S3's limit on keys per DeleteObjects request. */
const DELETE_BATCH = 1_000;

const isNotFound = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchObject';
};

/**
 * A {@link BlobStore} on S3 or any S3-compatible server (MinIO, Ceph, R2…) through the user's
 * `minio` client (`new Minio.Client({ … })`), which it never closes.
 *
 * - **Streaming, bounded memory**: a body larger than `partSizeBytes` is sent as a multipart
 *   upload, one part in memory at a time; smaller bodies go in one `PUT`. (minio's own
 *   `putObject(stream)` would buffer parts of 64 MiB or more for a stream of unknown length, and
 *   first lists incomplete uploads to resume them.)
 * - **Atomic**: S3 shows an object only once its `PUT` or `CompleteMultipartUpload` succeeds. A
 *   failed upload is aborted (best effort); configure `AbortIncompleteMultipartUpload` in a
 *   lifecycle rule to clean parts left by a crash.
 * - **Expiry**: the expiry time rides in object metadata (`x-amz-meta-bulwark-expires-at`);
 *   `sweepExpired()` lists the prefix, reads each object's metadata and deletes expired ones in
 *   batches. That costs one `HEAD` per object; for large stores prefer a bucket **lifecycle
 *   rule** on the prefix and skip sweeping:
 *
 * ```ts
 * await minio.setBucketLifecycle('claims', {
 *   Rule: [{
 *     ID: 'expire-claim-checks',
 *     Status: 'Enabled',
 *     Filter: { Prefix: 'claims/' },
 *     Expiration: { Days: 7 },                             // longer than the claim check's ttlMs
 *     AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
 *   }],
 * });
 * ```
 *
 * A lifecycle rule works in whole days and ignores each blob's own TTL: give it the longest TTL
 * you use. Object keys are `prefix + ref`; refs are validated by `assertValidBlobRef`.
 *
 * @example
 * ```ts
 * import * as Minio from 'minio';
 * import { s3BlobStore } from '@bulwark/messaging/s3';

 * const minio = new Minio.Client({ endPoint: 's3.amazonaws.com', accessKey, secretKey });
 * const store = s3BlobStore(minio, { bucket: 'my-app', prefix: 'claims/' });
 * ```
 */
export function s3BlobStore(client: Client, options: S3BlobStoreOptions): BlobStore {
  const validator = new OptionsValidator('s3BlobStore');
  if (!client || typeof (client as Partial<Client>).statObject !== 'function') {
    validator.report('client must be a minio Client');
  }
  if (typeof options?.bucket !== 'string' || options.bucket === '')
    validator.report('bucket must be a non-empty string');
  if (options?.prefix !== undefined && typeof options.prefix !== 'string') validator.report('prefix must be a string');
  const partSizeBytes = options?.partSizeBytes ?? DEFAULT_PART_BYTES;
  if (!Number.isInteger(partSizeBytes) || partSizeBytes < MIN_PART_BYTES) {
    validator.report(`partSizeBytes must be an integer >= ${MIN_PART_BYTES} (the S3 minimum), got ${partSizeBytes}`);
  }
  const requestTimeoutMs = options?.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < 1)
    validator.report(`requestTimeoutMs must be a positive integer, got ${requestTimeoutMs}`);
  validator.throwIfInvalid();
  const { bucket } = options;
  const prefix = options.prefix ?? '';
  const clock = options.clock ?? systemClock;
  const timedOut = (what: string) =>
    new MessagingError('S3_TIMEOUT', `${what}: no answer from S3 within ${requestTimeoutMs} ms`);
  /** One request, bounded by `requestTimeoutMs`; a failure is typed, except "not found" (an answer). */
  const request = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await within(clock, call(), requestTimeoutMs, () => timedOut(what));
    } catch (error) {
      if (error instanceof MessagingError || isNotFound(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new MessagingError('S3_FAILED', `${what} failed: ${reason}`, { cause: error });
    }
  };

  const keyOf = (ref: string): string => {
    assertValidBlobRef(ref);
    return prefix + ref;
  };

  const openObject = async (ref: string, callOptions?: BlobCallOptions): Promise<Readable | undefined> => {
    const key = keyOf(ref);
    const signal = callOptions?.signal;
    signal?.throwIfAborted();
    let stream: Readable;
    const opening = client.getObject(bucket, key);
    try {
      stream = await request(`GET ${key}`, () => opening);
    } catch (error) {
      // A body that arrives after the timeout is dropped, or its socket stays busy for good.
      void opening.then((late) => late.destroy()).catch(() => undefined);
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (signal?.aborted) {
      stream.destroy();
      throw signal.reason;
    }
    if (signal) {
      const onAbort = () => stream.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return stream;
  };

  const infoOf = (ref: string, size: number, metaData: Record<string, unknown>): BlobInfo => {
    const contentType =
      typeof metaData['content-type'] === 'string' ? metaData['content-type'] : DEFAULT_BLOB_CONTENT_TYPE;
    const expiresAt = Number(metaData[S3_EXPIRES_AT_METADATA]);
    return { ref, bytes: size, contentType, ...(Number.isFinite(expiresAt) ? { expiresAt } : {}) };
  };

  const store: BlobStore = {
    name: 's3',
    async put(ref, body, putOptions = {}) {
      let key: string;
      let expiresAt: number | undefined;
      try {
        key = keyOf(ref);
        assertValidContentType(putOptions.contentType);
        expiresAt = expiryOf(clock.now(), putOptions.ttlMs);
      } catch (error) {
        discardBody(body, error);
        throw error;
      }
      const signal = putOptions.signal;
      const contentType = putOptions.contentType ?? DEFAULT_BLOB_CONTENT_TYPE;
      const metadata: Record<string, string> = { 'Content-Type': contentType };
      if (expiresAt !== undefined) metadata[`X-Amz-Meta-${S3_EXPIRES_AT_METADATA}`] = String(expiresAt);

      // A body smaller than a part is kept as its chunks and sent in one PUT. A bigger one is
      // copied into one part buffer, reused for every part (minio is done with it once uploadPart
      // resolves): a put holds one part in memory, and no part is copied twice.
      let pending: Buffer[] = [];
      let part: Buffer | undefined;
      let filled = 0;
      let totalBytes = 0;
      let uploadId: string | undefined;
      const parts: { part: number; etag: string }[] = [];
      const uploadPart = async (payload: Buffer) => {
        uploadId ??= await request(`CreateMultipartUpload ${key}`, () =>
          client.initiateNewMultipartUpload(bucket, key, { ...metadata }),
        );
        signal?.throwIfAborted();
        const partNumber = parts.length + 1;
        const upload = uploadId;
        const result = await request(`UploadPart ${partNumber} of ${key}`, () =>
          client.uploadPart(
            { bucketName: bucket, objectName: key, uploadID: upload, partNumber, headers: {} },
            payload,
          ),
        );
        parts.push({ part: partNumber, etag: result.etag });
      };
      try {
        for await (const chunk of blobChunks(body, signal)) {
          totalBytes += chunk.byteLength;
          if (part === undefined) {
            if (filled + chunk.byteLength < partSizeBytes) {
              pending.push(chunk);
              filled += chunk.byteLength;
              continue;
            }
            part = Buffer.concat(pending, partSizeBytes);
            pending = [];
          }
          for (let offset = 0; offset < chunk.byteLength; ) {
            const copied = chunk.copy(part, filled, offset);
            filled += copied;
            offset += copied;
            if (filled === partSizeBytes) {
              await uploadPart(part);
              filled = 0;
            }
          }
        }
        signal?.throwIfAborted();
        const rest = part ? part.subarray(0, filled) : Buffer.concat(pending, filled);
        if (uploadId === undefined) {
          await request(`PUT ${key}`, () => client.putObject(bucket, key, rest, rest.byteLength, metadata));
        } else {
          if (filled > 0) await uploadPart(rest);
          signal?.throwIfAborted();
          const upload = uploadId;
          await request(`CompleteMultipartUpload ${key}`, () =>
            client.completeMultipartUpload(bucket, key, upload, parts),
          );
        }
      } catch (error) {
        discardBody(body, error);
        if (uploadId !== undefined) {
          // Best effort: some S3 servers (s3rver) do not implement AbortMultipartUpload; the
          // parts are invisible anyway and a lifecycle rule removes them.
          const upload = uploadId;
          await request(`AbortMultipartUpload ${key}`, () => client.abortMultipartUpload(bucket, key, upload)).catch(
            () => undefined,
          );
        }
        if (signal?.aborted) throw signal.reason;
        throw error;
      }
      return { ref, bytes: totalBytes, contentType, ...(expiresAt === undefined ? {} : { expiresAt }) };
    },
    async get(ref, callOptions) {
      const stream = await openObject(ref, callOptions);
      if (!stream) return undefined;
      const chunks: Buffer[] = [];
      // A body that stops coming (a silent server) is ended after requestTimeoutMs without a chunk.
      let idle = clock.setTimeout(() => stream.destroy(timedOut(`Reading ${ref}`)), requestTimeoutMs);
      try {
        for await (const chunk of blobChunks(stream, callOptions?.signal)) {
          chunks.push(chunk);
          clock.clearTimeout(idle);
          idle = clock.setTimeout(() => stream.destroy(timedOut(`Reading ${ref}`)), requestTimeoutMs);
        }
      } catch (error) {
        if (error instanceof MessagingError || callOptions?.signal?.aborted) throw error;
        const reason = error instanceof Error ? error.message : String(error);
        throw new MessagingError('S3_FAILED', `Reading ${ref} failed: ${reason}`, { cause: error });
      } finally {
        clock.clearTimeout(idle);
        stream.destroy();
      }
      const body = Buffer.concat(chunks);
      // The HTTP response of minio's getObject: a body shorter than announced is never returned as the blob.
      const announced = Number(
        (stream as Readable & { headers?: Record<string, unknown> }).headers?.['content-length'],
      );
      if (Number.isInteger(announced) && announced !== body.byteLength) {
        throw new MessagingError(
          'S3_FAILED',
          `Reading ${ref} failed: ${body.byteLength} of ${announced} bytes arrived`,
        );
      }
      return body;
    },
    getStream: openObject,
    async head(ref, callOptions) {
      const key = keyOf(ref);
      callOptions?.signal?.throwIfAborted();
      try {
        const stat = await request(`HEAD ${key}`, () => client.statObject(bucket, key));
        return infoOf(ref, stat.size, stat.metaData as Record<string, unknown>);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async delete(ref, callOptions) {
      const key = keyOf(ref);
      callOptions?.signal?.throwIfAborted();
      await request(`DELETE ${key}`, () => client.removeObject(bucket, key));
    },
    async sweepExpired(callOptions) {
      const signal = callOptions?.signal;
      signal?.throwIfAborted();
      const now = clock.now();
      const expired: string[] = [];
      let swept = 0;
      const flush = async () => {
        if (expired.length === 0) return;
        const batch = expired.splice(0, expired.length);
        const results = await request(`DeleteObjects (${batch.length} keys)`, () =>
          client.removeObjects(bucket, batch),
        );
        // DeleteObjects answers 200 and lists the keys it could not delete; those are not counted
        // (a later sweep retries them).
        swept += batch.length - results.filter((result) => result?.Error !== undefined).length;
      };
      // HEADs go out in groups while the listing streams on, instead of one at a time.
      let listed: string[] = [];
      const inspect = async () => {
        const keys = listed;
        listed = [];
        const expiries = await Promise.all(
          keys.map((key) =>
            request(`HEAD ${key}`, () => client.statObject(bucket, key)).then(
              (stat) => Number((stat.metaData as Record<string, unknown>)[S3_EXPIRES_AT_METADATA]),
              (error: unknown) => {
                if (isNotFound(error)) return Number.NaN;
                throw error;
              },
            ),
          ),
        );
        keys.forEach((key, index) => {
          const expiresAt = expiries[index] as number;
          if (Number.isFinite(expiresAt) && expiresAt <= now) expired.push(key);
        });
        if (expired.length >= DELETE_BATCH) await flush();
      };
      for await (const item of client.listObjectsV2(bucket, prefix, true)) {
        signal?.throwIfAborted();
        const key = (item as { name?: string }).name;
        if (!key?.startsWith(prefix)) continue;
        listed.push(key);
        if (listed.length >= SWEEP_HEAD_CONCURRENCY) await inspect();
      }
      await inspect();
      await flush();
      return swept;
    },
    async close() {},
    [Symbol.asyncDispose]() {
      return store.close();
    },
  };
  return store;
}
