import { createHash, randomBytes } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import type { EventSubscription } from '@bulwark/resilience';
import { NamedEventEmitter } from '@bulwark/resilience';
import type { Envelope, MessageHeaders } from '../envelope/envelope.js';
import { traceClaimCheck } from '../telemetry/message-spans.js';
import { blobChunks } from './blob-body.js';
import { assertValidBlobRef } from './blob-ref.js';
import type { BlobBody, BlobStore } from './blob-store.js';
import { ClaimCheckIntegrityError, ClaimCheckSerializationError, InvalidBlobRefError } from './claim-check-errors.js';
import type { ClaimCheckEvents } from './claim-check-events.js';
import { type ClaimCheckOptions, claimCheckDefaults, validateClaimCheckOptions } from './claim-check-options.js';

/**
 * What a checked-in payload leaves in the message: enough to find the blob and prove that
 * what comes back is what went in.
 */
export interface Claim {
  /** Where the blob is in the store: 192 random bits, base64url, after the `refPrefix`. */
  readonly ref: string;
  /** Size of the blob in bytes. */
  readonly bytes: number;
  /** Lower-case hex SHA-256 of the blob's bytes, checked on check-out. */
  readonly sha256: string;
  /** `application/json` for a checked-in payload; `application/octet-stream` for bytes; any for streams. */
  readonly contentType: string;
}

/**
 * The header that marks a message whose payload is a {@link Claim} (value {@link CLAIM_CHECK_HEADER_VALUE}).
 * A checked-in message keeps every other field; only `payload` is replaced by the claim.
 */
export const CLAIM_CHECK_HEADER = 'claimCheck';
/** The value of {@link CLAIM_CHECK_HEADER}: the claim format version. */
export const CLAIM_CHECK_HEADER_VALUE = 'v1';

const JSON_CONTENT_TYPE = 'application/json';
const BYTES_CONTENT_TYPE = 'application/octet-stream';
const sha256Pattern = /^[0-9a-f]{64}$/;

/** Options of the calls of a {@link ClaimCheck}. */
export interface ClaimCheckCallOptions {
  signal?: AbortSignal;
}

/** Options of {@link ClaimCheck.checkInStream}. */
export interface CheckInStreamOptions extends ClaimCheckCallOptions {
  /** @defaultValue `'application/octet-stream'` */
  contentType?: string;
  /** Overrides the claim check's `ttlMs` for this blob. */
  ttlMs?: number;
}

/**
 * Moves big payloads out of messages into a {@link BlobStore} and brings them back, verified
 * (the claim check pattern, as in the SQS extended client or MassTransit's MessageData).
 */
export interface ClaimCheck {
  /**
   * Returns `message` unchanged when its serialized payload is at most `thresholdBytes`;
   * otherwise stores the payload and returns a copy whose `payload` is the {@link Claim} and
   * whose headers carry {@link CLAIM_CHECK_HEADER}. JSON payloads are stored as UTF-8 JSON,
   * `Buffer`/`Uint8Array` payloads as raw bytes. A message already checked in is returned as is.
   *
   * @throws ClaimCheckSerializationError when the payload cannot be serialized (nothing is written)
   */
  checkIn<Payload>(message: Envelope<Payload>, options?: ClaimCheckCallOptions): Promise<Envelope<Payload | Claim>>;
  /**
   * Restores a checked-in message: reads the blob, verifies its size and SHA-256 and puts the
   * payload back (JSON parsed, bytes as a `Buffer`). Messages without the header are returned
   * unchanged.
   *
   * @throws ClaimCheckIntegrityError when the blob is missing, altered or the claim is malformed
   */
  checkOut<Payload = unknown>(message: Envelope, options?: ClaimCheckCallOptions): Promise<Envelope<Payload>>;
  /**
   * Streams `body` into the store without holding it in memory, hashing on the way, and returns
   * the claim to put in a message (anywhere in its payload).
   */
  checkInStream(body: BlobBody, options?: CheckInStreamOptions): Promise<Claim>;
  /**
   * Streams a claimed blob back. The SHA-256 and size are checked as the bytes flow: the stream
   * fails with {@link ClaimCheckIntegrityError} at the end on a mismatch (or as soon as it is
   * longer than claimed), so treat the data as unverified until it ends without error.
   *
   * @throws ClaimCheckIntegrityError when the blob is missing or the claim is malformed
   */
  checkOutStream(claim: Claim, options?: ClaimCheckCallOptions): Promise<Readable>;
  /** Whether `message` carries a claim in place of its payload. */
  isCheckedIn(message: Pick<Envelope, 'headers'>): boolean;
  /** Deletes expired blobs from the store; returns how many. */
  sweepExpired(options?: ClaimCheckCallOptions): Promise<number>;
  /** Listens to an event; returns the function that removes the listener. */
  on<Name extends keyof ClaimCheckEvents>(
    name: Name,
    listener: (event: ClaimCheckEvents[Name]) => void,
  ): EventSubscription;
}

/** Whether `value` has the shape of a {@link Claim} with a valid ref and hash. */
export function isClaim(value: unknown): value is Claim {
  if (typeof value !== 'object' || value === null) return false;
  const claim = value as Record<string, unknown>;
  if (typeof claim.ref !== 'string' || typeof claim.contentType !== 'string') return false;
  if (typeof claim.sha256 !== 'string' || !sha256Pattern.test(claim.sha256)) return false;
  if (typeof claim.bytes !== 'number' || !Number.isSafeInteger(claim.bytes) || claim.bytes < 0) return false;
  try {
    assertValidBlobRef(claim.ref);
    return true;
  } catch {
    return false;
  }
}

function assertClaim(value: unknown): asserts value is Claim {
  if (isClaim(value)) return;
  const ref = typeof (value as { ref?: unknown } | null)?.ref === 'string' ? (value as { ref: string }).ref : '';
  let cause: unknown;
  try {
    assertValidBlobRef(ref);
  } catch (error) {
    cause = error;
  }
  throw new ClaimCheckIntegrityError(
    ref,
    'invalid-claim',
    cause instanceof InvalidBlobRefError
      ? `The claim's ref is not valid: ${cause.problem}`
      : 'The claim must be { ref, bytes, sha256 (hex), contentType }',
    cause ? { cause } : undefined,
  );
}

function serializePayload(payload: unknown): { bytes: Buffer; contentType: string } {
  if (payload instanceof Uint8Array) {
    return {
      bytes: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      contentType: BYTES_CONTENT_TYPE,
    };
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    throw new ClaimCheckSerializationError(`The payload cannot be serialized as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (text === undefined) {
    throw new ClaimCheckSerializationError(`The payload cannot be serialized as JSON: it is ${typeof payload}`);
  }
  return { bytes: Buffer.from(text, 'utf8'), contentType: JSON_CONTENT_TYPE };
}

function deserializePayload(bytes: Buffer, claim: Claim): unknown {
  if (claim.contentType !== JSON_CONTENT_TYPE) return bytes;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ClaimCheckIntegrityError(claim.ref, 'invalid-claim', 'The checked-out blob is not valid JSON', {
      cause: error,
    });
  }
}

/** Hashes and counts bytes as they pass; fails once more bytes pass than claimed, or at the end on a mismatch. */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  constructor(
    private readonly claim: Claim,
    private readonly onVerified: () => Promise<void>,
    private readonly onFailed: (error: ClaimCheckIntegrityError) => void,
  ) {
    super();
  }
  private fail(callback: TransformCallback, error: ClaimCheckIntegrityError): void {
    this.onFailed(error);
    callback(error);
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.byteLength;
    if (this.seen > this.claim.bytes) {
      this.fail(callback, sizeMismatch(this.claim, this.seen));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.claim.bytes) {
      this.fail(callback, sizeMismatch(this.claim, this.seen));
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.claim.sha256) {
      this.fail(callback, hashMismatch(this.claim, actual));
      return;
    }
    this.onVerified().then(
      () => callback(),
      () => callback(),
    );
  }
}

const sizeMismatch = (claim: Claim, seen: number) =>
  new ClaimCheckIntegrityError(
    claim.ref,
    'size-mismatch',
    `Blob ${claim.ref} has ${seen >= claim.bytes ? 'more than' : 'only'} ${seen} bytes; the claim says ${claim.bytes}`,
  );
const hashMismatch = (claim: Claim, actual: string) =>
  new ClaimCheckIntegrityError(
    claim.ref,
    'hash-mismatch',
    `Blob ${claim.ref} has SHA-256 ${actual}; the claim says ${claim.sha256}: it was altered`,
  );
const missing = (claim: Claim) =>
  new ClaimCheckIntegrityError(
    claim.ref,
    'missing',
    `Blob ${claim.ref} is missing from the store (expired or deleted?)`,
  );

/**
 * Creates a {@link ClaimCheck}.
 *
 * Where the claim goes: `checkIn` replaces the message's `payload` with the {@link Claim}
 * `{ ref, bytes, sha256, contentType }` and sets the header `claimCheck: 'v1'`; every other
 * field (id, key, headers) is kept, so routing and deduplication work on the slim message.
 *
 * @example
 * ```ts
 * const checks = claimCheck({ store: fsBlobStore({ dir: '.data/claims' }), thresholdBytes: 128 * 1024, ttlMs: 86_400_000 });
 * await transport.publish('orders', [await checks.checkIn(message)]);
 * // consumer side
 * const original = await checks.checkOut<OrderDocument>(delivery.message);
 * ```
 */
export function claimCheck(options: ClaimCheckOptions): ClaimCheck {
  validateClaimCheckOptions(options);
  const store: BlobStore = options.store;
  const thresholdBytes = options.thresholdBytes ?? claimCheckDefaults.thresholdBytes;
  const deleteAfterCheckOut = options.deleteAfterCheckOut ?? claimCheckDefaults.deleteAfterCheckOut;
  const refPrefix = options.refPrefix ?? claimCheckDefaults.refPrefix;
  // 192 bits from the CSPRNG: a ref cannot be guessed, so knowing one grants access to one blob only.
  const newRef = () => `${refPrefix}${randomBytes(24).toString('base64url')}`;
  const putOptions = (contentType: string, ttlMs: number | undefined, signal: AbortSignal | undefined) => ({
    contentType,
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(signal ? { signal } : {}),
  });
  const signalOption = (signal: AbortSignal | undefined) => (signal ? { signal } : {});
  const events = new NamedEventEmitter<ClaimCheckEvents>();
  const reportIntegrity = (error: unknown) => {
    if (error instanceof ClaimCheckIntegrityError && events.has('claim-integrity-failed')) {
      events.emit('claim-integrity-failed', { ref: error.ref, reason: error.reason });
    }
  };
  const deleteQuietly = async (ref: string) => {
    // The blob expires anyway; a failed delete must not fail a consumer that has its payload.
    await store.delete(ref).catch(() => undefined);
  };

  const readVerified = async (claim: Claim, signal: AbortSignal | undefined): Promise<Buffer> => {
    const stream = await store.getStream(claim.ref, signalOption(signal));
    if (!stream) throw missing(claim);
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let seen = 0;
    try {
      for await (const chunk of blobChunks(stream, signal)) {
        seen += chunk.byteLength;
        // Stop early rather than buffer an oversized (tampered) blob.
        if (seen > claim.bytes) throw sizeMismatch(claim, seen);
        hash.update(chunk);
        chunks.push(chunk);
      }
    } finally {
      stream.destroy();
    }
    if (seen !== claim.bytes) throw sizeMismatch(claim, seen);
    const actual = hash.digest('hex');
    if (actual !== claim.sha256) throw hashMismatch(claim, actual);
    return Buffer.concat(chunks, seen);
  };

  return traceClaimCheck(
    {
      async checkIn<Payload>(message: Envelope<Payload>, callOptions: ClaimCheckCallOptions = {}) {
        callOptions.signal?.throwIfAborted();
        if (message.headers[CLAIM_CHECK_HEADER] === CLAIM_CHECK_HEADER_VALUE) return message;
        const { bytes, contentType } = serializePayload(message.payload);
        if (bytes.byteLength <= thresholdBytes) return message;
        const ref = newRef();
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        await store.put(ref, bytes, putOptions(contentType, options.ttlMs, callOptions.signal));
        const claim: Claim = { ref, bytes: bytes.byteLength, sha256, contentType };
        if (events.has('claim-checked-in'))
          events.emit('claim-checked-in', { ref, bytes: claim.bytes, streamed: false });
        const headers: MessageHeaders = { ...message.headers, [CLAIM_CHECK_HEADER]: CLAIM_CHECK_HEADER_VALUE };
        return { ...message, payload: claim, headers };
      },

      async checkOut<Payload = unknown>(message: Envelope, callOptions: ClaimCheckCallOptions = {}) {
        callOptions.signal?.throwIfAborted();
        if (message.headers[CLAIM_CHECK_HEADER] !== CLAIM_CHECK_HEADER_VALUE) return message as Envelope<Payload>;
        const claim = message.payload;
        let payload: Payload;
        try {
          assertClaim(claim);
          payload = deserializePayload(await readVerified(claim, callOptions.signal), claim) as Payload;
        } catch (error) {
          reportIntegrity(error);
          throw error;
        }
        if (deleteAfterCheckOut) await deleteQuietly(claim.ref);
        if (events.has('claim-checked-out'))
          events.emit('claim-checked-out', { ref: claim.ref, bytes: claim.bytes, streamed: false });
        const { [CLAIM_CHECK_HEADER]: _marker, ...headers } = message.headers;
        return { ...message, payload, headers };
      },

      async checkInStream(body: BlobBody, callOptions: CheckInStreamOptions = {}) {
        const ref = newRef();
        const hash = createHash('sha256');
        let bytes = 0;
        const hashed = async function* () {
          for await (const chunk of blobChunks(body, callOptions.signal)) {
            hash.update(chunk);
            bytes += chunk.byteLength;
            yield chunk;
          }
        };
        const contentType = callOptions.contentType ?? BYTES_CONTENT_TYPE;
        await store.put(ref, hashed(), putOptions(contentType, callOptions.ttlMs ?? options.ttlMs, callOptions.signal));
        if (events.has('claim-checked-in')) events.emit('claim-checked-in', { ref, bytes, streamed: true });
        return { ref, bytes, sha256: hash.digest('hex'), contentType };
      },

      async checkOutStream(claim: Claim, callOptions: ClaimCheckCallOptions = {}) {
        callOptions.signal?.throwIfAborted();
        let source: Readable | undefined;
        try {
          assertClaim(claim);
          source = await store.getStream(claim.ref, signalOption(callOptions.signal));
          if (!source) throw missing(claim);
        } catch (error) {
          reportIntegrity(error);
          throw error;
        }
        const verifying = new VerifyingStream(
          claim,
          async () => {
            if (deleteAfterCheckOut) await deleteQuietly(claim.ref);
            if (events.has('claim-checked-out'))
              events.emit('claim-checked-out', { ref: claim.ref, bytes: claim.bytes, streamed: true });
          },
          reportIntegrity,
        );
        source.once('error', (error) => verifying.destroy(error));
        verifying.once('close', () => source.destroy());
        return source.pipe(verifying);
      },

      isCheckedIn(message) {
        return message.headers[CLAIM_CHECK_HEADER] === CLAIM_CHECK_HEADER_VALUE;
      },

      sweepExpired(callOptions: ClaimCheckCallOptions = {}) {
        return store.sweepExpired(signalOption(callOptions.signal));
      },

      on(name, listener) {
        return events.on(name, listener);
      },
    },
    (message) => message.headers[CLAIM_CHECK_HEADER] === CLAIM_CHECK_HEADER_VALUE,
  );
}
