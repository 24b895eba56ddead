import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { type ManualClock, manualClock } from '@bulwark/resilience/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../claim-check/blob-store.js';
import { InvalidBlobRefError } from '../claim-check/claim-check-errors.js';
import { blobStoreAwkwardTextConformance } from './blob-store-awkward-text-conformance.js';

/** What {@link blobStoreConformance} needs to test a {@link BlobStore} implementation. */
export interface BlobStoreConformanceOptions {
  /** Makes a fresh, empty store whose expiry follows `clock` (isolate it: own dir, prefix or bucket). */
  createStore(context: { clock: ManualClock }): BlobStore | Promise<BlobStore>;
  /** Runs after each test, after `store.close()` (e.g. to remove a temp dir). */
  cleanup?(store: BlobStore): void | Promise<void>;
  /**
   * Size of the blob streamed in the large-blob case; make it span several parts where the store
   * uploads in parts.
   * @defaultValue `12 * 1024 * 1024`
   */
  largeBlobBytes?: number;
}

/** Refs that must be rejected by every store: traversal, absolute, encoded, hidden, empty, oversized. */
export const invalidBlobRefs: readonly string[] = [
  '../escape',
  '../../etc/passwd',
  'a/../../b',
  '/etc/passwd',
  '/absolute',
  'a//b',
  'a/',
  '.hidden',
  'a/./b',
  '..',
  '%2e%2e%2fetc%2fpasswd',
  '..%2f..%2fetc',
  'a\\..\\b',
  'C:\\Windows',
  'a\u0000b',
  'space in name',
  '',
  'x'.repeat(600),
];

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** A deterministic byte pattern so a misplaced or missing chunk changes the hash. */
function* patternChunks(totalBytes: number, chunkBytes = 256 * 1024): Generator<Buffer> {
  let offset = 0;
  while (offset < totalBytes) {
    const size = Math.min(chunkBytes, totalBytes - offset);
    const chunk = Buffer.allocUnsafe(size);
    for (let index = 0; index < size; index += 4) chunk.writeUInt32LE((offset + index) >>> 0, index);
    offset += size;
    yield chunk.subarray(0, size);
  }
}

/** Resolves once the store has taken everything written to `body` (no timers: event-loop turns). */
async function consumed(body: PassThrough): Promise<void> {
  for (let turn = 0; turn < 100_000; turn++) {
    if (body.readableLength === 0 && body.writableLength === 0) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('the store did not read the body');
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The conformance suite every {@link BlobStore} must pass: round trips of bytes and streams,
 * missing blobs, atomic puts (nothing visible mid-write or after a failed or aborted body),
 * ref validation, replacement and expiry sweeps driven by a manual clock.
 *
 * @example
 * ```ts
 * blobStoreConformance('fsBlobStore', {
 *   createStore: ({ clock }) => fsBlobStore({ dir: mkdtempSync(join(tmpdir(), 'blobs-')), clock }),
 * });
 * ```
 */
export function blobStoreConformance(name: string, options: BlobStoreConformanceOptions): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let opened: BlobStore[] = [];
    const setup = async () => {
      const clock = manualClock(1_700_000_000_000);
      const store = await options.createStore({ clock });
      opened.push(store);
      return { clock, store };
    };
    afterEach(async () => {
      for (const store of opened) {
        await store.close();
        await options.cleanup?.(store);
      }
      opened = [];
    });

    it('round-trips bytes with their metadata', async () => {
      const { store } = await setup();
      const body = Buffer.from('{"hello":"world"}');
      const info = await store.put('orders/1', body, { contentType: 'application/json' });
      expect(info).toMatchObject({ ref: 'orders/1', bytes: body.byteLength, contentType: 'application/json' });
      expect(info.expiresAt).toBeUndefined();
      expect(await store.get('orders/1')).toEqual(body);
      expect(await store.head('orders/1')).toMatchObject({
        ref: 'orders/1',
        bytes: body.byteLength,
        contentType: 'application/json',
      });
      expect(await readAll((await store.getStream('orders/1')) as Readable)).toEqual(body);
    });

    it('stores every byte value and empty blobs, defaulting the content type', async () => {
      const { store } = await setup();
      const every = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
      await store.put('every-byte', new Uint8Array(every));
      await store.put('empty', Buffer.alloc(0));
      expect(await store.get('every-byte')).toEqual(every);
      expect(await store.get('empty')).toEqual(Buffer.alloc(0));
      expect(await store.head('empty')).toMatchObject({ bytes: 0, contentType: 'application/octet-stream' });
    });

    it('streams a Node Readable and an async iterable in, and a large blob out unchanged', async () => {
      const { store } = await setup();
      const large = options.largeBlobBytes ?? 12 * 1024 * 1024;
      const expected = createHash('sha256');
      for (const chunk of patternChunks(large)) expected.update(chunk);
      const info = await store.put('large/blob', Readable.from(patternChunks(large)), {
        contentType: 'application/x-test',
      });
      expect(info.bytes).toBe(large);
      const actual = createHash('sha256');
      let seen = 0;
      for await (const chunk of (await store.getStream('large/blob')) as Readable) {
        actual.update(chunk as Buffer);
        seen += (chunk as Buffer).byteLength;
      }
      expect(seen).toBe(large);
      expect(actual.digest('hex')).toBe(expected.digest('hex'));
      const iterable = (async function* () {
        yield new TextEncoder().encode('part one,');
        yield new TextEncoder().encode('part two');
      })();
      await store.put('iterable', iterable);
      expect((await store.get('iterable'))?.toString()).toBe('part one,part two');
    });

    it('reads missing blobs as undefined and deletes them without error', async () => {
      const { store } = await setup();
      expect(await store.get('nothing/here')).toBeUndefined();
      expect(await store.getStream('nothing/here')).toBeUndefined();
      expect(await store.head('nothing/here')).toBeUndefined();
      await expect(store.delete('nothing/here')).resolves.toBeUndefined();
    });

    it('deletes a blob', async () => {
      const { store } = await setup();
      await store.put('to-delete', Buffer.from('x'));
      await store.put('to-keep', Buffer.from('y'));
      await store.delete('to-delete');
      expect(await store.head('to-delete')).toBeUndefined();
      expect(await store.get('to-delete')).toBeUndefined();
      expect((await store.get('to-keep'))?.toString()).toBe('y');
    });

    it('replaces a blob put twice under one ref', async () => {
      const { store } = await setup();
      await store.put('same', Buffer.from('first version, longer'), { contentType: 'text/plain' });
      await store.put('same', Buffer.from('second'), { contentType: 'text/csv' });
      expect((await store.get('same'))?.toString()).toBe('second');
      expect(await store.head('same')).toMatchObject({ bytes: 6, contentType: 'text/csv' });
    });

    it('keeps nested refs apart', async () => {
      const { store } = await setup();
      await store.put('a/b', Buffer.from('ab'));
      await store.put('a/b/c', Buffer.from('abc'));
      await store.put('a.b', Buffer.from('a.b'));
      expect((await store.get('a/b'))?.toString()).toBe('ab');
      expect((await store.get('a/b/c'))?.toString()).toBe('abc');
      expect((await store.get('a.b'))?.toString()).toBe('a.b');
    });

    it('rejects refs that could escape the store, for every call, before writing anything', async () => {
      const { store } = await setup();
      for (const ref of invalidBlobRefs) {
        await expect(store.put(ref, Buffer.from('x')), ref).rejects.toBeInstanceOf(InvalidBlobRefError);
        await expect(store.get(ref), ref).rejects.toBeInstanceOf(InvalidBlobRefError);
        await expect(store.getStream(ref), ref).rejects.toBeInstanceOf(InvalidBlobRefError);
        await expect(store.head(ref), ref).rejects.toBeInstanceOf(InvalidBlobRefError);
        await expect(store.delete(ref), ref).rejects.toBeInstanceOf(InvalidBlobRefError);
      }
      expect(await store.sweepExpired()).toBe(0);
    });

    it('shows nothing while a put is in progress, then the whole blob', async () => {
      const { store } = await setup();
      const body = new PassThrough();
      const putting = store.put('in-progress', body);
      body.write(Buffer.alloc(64 * 1024, 1));
      await consumed(body);
      expect(await store.head('in-progress')).toBeUndefined();
      expect(await store.get('in-progress')).toBeUndefined();
      body.end(Buffer.alloc(1024, 2));
      expect((await putting).bytes).toBe(65 * 1024);
      expect((await store.get('in-progress'))?.byteLength).toBe(65 * 1024);
    });

    it('leaves nothing behind when the body fails midway', async () => {
      const { store } = await setup();
      const failing = (async function* () {
        yield Buffer.alloc(32 * 1024, 7);
        throw new Error('source broke');
      })();
      await expect(store.put('broken', failing)).rejects.toThrow('source broke');
      expect(await store.head('broken')).toBeUndefined();
      expect(await store.get('broken')).toBeUndefined();
    });

    it('leaves nothing behind when the put is aborted, and rejects with the reason', async () => {
      const { store } = await setup();
      const controller = new AbortController();
      const body = new PassThrough();
      const putting = store.put('aborted', body, { signal: controller.signal });
      body.write(Buffer.alloc(16 * 1024, 3));
      await consumed(body);
      const reason = new Error('caller gave up');
      controller.abort(reason);
      await expect(putting).rejects.toBe(reason);
      expect(await store.head('aborted')).toBeUndefined();
      await expect(store.get('x', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });

    it('sweeps blobs whose time to live has passed, and only those', async () => {
      const { store, clock } = await setup();
      const info = await store.put('short', Buffer.from('s'), { ttlMs: 1_000 });
      expect(info.expiresAt).toBe(clock.now() + 1_000);
      expect((await store.head('short'))?.expiresAt).toBe(clock.now() + 1_000);
      await store.put('nested/long', Buffer.from('l'), { ttlMs: 60_000 });
      await store.put('forever', Buffer.from('f'));
      clock.advance(999);
      expect(await store.sweepExpired()).toBe(0);
      clock.advance(1);
      expect(await store.sweepExpired()).toBe(1);
      expect(await store.head('short')).toBeUndefined();
      expect(await store.head('nested/long')).toBeDefined();
      clock.advance(3_600_000);
      expect(await store.sweepExpired()).toBe(1);
      expect(await store.head('nested/long')).toBeUndefined();
      expect((await store.get('forever'))?.toString()).toBe('f');
      expect(await store.sweepExpired()).toBe(0);
    });

    it('handles concurrent puts of different refs', async () => {
      const { store } = await setup();
      const refs = Array.from({ length: 16 }, (_, index) => `concurrent/${index}`);
      await Promise.all(refs.map((ref, index) => store.put(ref, Buffer.from(`blob ${index}`))));
      const bodies = await Promise.all(refs.map((ref) => store.get(ref)));
      expect(bodies.map((body) => body?.toString())).toEqual(refs.map((_, index) => `blob ${index}`));
      expect(sha256((await store.get('concurrent/3')) as Buffer)).toBe(sha256(Buffer.from('blob 3')));
    });

    blobStoreAwkwardTextConformance(setup);
  });
}
