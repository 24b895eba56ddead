import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type BlobStore,
  CLAIM_CHECK_HEADER,
  type Claim,
  ClaimCheckIntegrityError,
  ClaimCheckSerializationError,
  claimCheck,
  createEnvelope,
  isClaim,
  memoryBlobStore,
} from '@bulwark/messaging';
import { InvalidOptionsError } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';

import { describe, expect, it } from 'vitest';

const message = <Payload>(payload: Payload) =>
  createEnvelope({ topic: 'orders', type: 'order.placed', payload, key: 'k1' });
const big = (bytes: number) => ({ text: 'x'.repeat(bytes) });
const readAll = async (stream: AsyncIterable<unknown>) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

describe('claimCheck', () => {
  it('keeps payloads at or under the threshold inline, untouched', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 100 });
    const original = message({ text: 'x'.repeat(100 - '{"text":""}'.length) });
    expect(await checks.checkIn(original)).toBe(original);
    expect(checks.isCheckedIn(original)).toBe(false);
    expect(await checks.checkOut(original)).toBe(original);
  });

  it('moves a payload over the threshold to the store, leaving the claim and a header', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 100 });
    const original = message(big(200));
    const checkedIn = await checks.checkIn(original);
    const serialized = Buffer.from(JSON.stringify(original.payload));
    expect(checkedIn.headers[CLAIM_CHECK_HEADER]).toBe('v1');
    expect(checkedIn).toMatchObject({ id: original.id, key: 'k1', topic: 'orders', type: 'order.placed' });
    const claim = checkedIn.payload as Claim;
    expect(isClaim(claim)).toBe(true);
    expect(claim).toEqual({
      ref: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      bytes: serialized.byteLength,
      sha256: createHash('sha256').update(serialized).digest('hex'),
      contentType: 'application/json',
    });
    expect(JSON.stringify(checkedIn).length).toBeLessThan(400);
    expect(await store.get(claim.ref)).toEqual(serialized);
    // A message already checked in is not checked in twice.
    expect(await checks.checkIn(checkedIn)).toBe(checkedIn);

    const restored = await checks.checkOut<{ text: string }>(JSON.parse(JSON.stringify(checkedIn)));
    expect(restored.payload).toEqual(original.payload);
    expect(restored.headers).toEqual(original.headers);
    expect(restored.id).toBe(original.id);
  });

  it('stores byte payloads raw and gives them back as a Buffer', async () => {
    const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 10 });
    const bytes = new Uint8Array(Array.from({ length: 64 }, (_, index) => index));
    const checkedIn = await checks.checkIn(message(bytes));
    expect((checkedIn.payload as Claim).contentType).toBe('application/octet-stream');
    expect((await checks.checkOut(checkedIn)).payload).toEqual(Buffer.from(bytes));
  });

  it('makes unguessable, distinct refs under the prefix', async () => {
    const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 0, refPrefix: 'claims/' });
    const refs = new Set<string>();
    for (let index = 0; index < 200; index++) {
      refs.add(((await checks.checkIn(message({ index }))).payload as Claim).ref);
    }
    expect(refs.size).toBe(200);
    for (const ref of refs) expect(ref).toMatch(/^claims\/[A-Za-z0-9_-]{32}$/);
  });

  it('throws a typed error for a payload that cannot be serialized, writing nothing', async () => {
    const inner = memoryBlobStore();
    const putRefs: string[] = [];
    const store: BlobStore = {
      ...inner,
      put: (ref, body, options) => {
        putRefs.push(ref);
        return inner.put(ref, body, options);
      },
    };
    const checks = claimCheck({ store, thresholdBytes: 0 });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    for (const payload of [{ amount: 10n }, cyclic, undefined, () => 1]) {
      await expect(checks.checkIn(message(payload))).rejects.toBeInstanceOf(ClaimCheckSerializationError);
    }
    await expect(checks.checkIn(message({ amount: 10n }))).rejects.toMatchObject({ code: 'CLAIM_CHECK_SERIALIZATION' });
    expect(putRefs).toEqual([]);
  });

  it('detects a tampered blob (same size, other bytes)', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 10 });
    const checkedIn = await checks.checkIn(message(big(100)));
    const claim = checkedIn.payload as Claim;
    const tampered = Buffer.from(JSON.stringify(big(100)).replace('xx', 'yy'));
    await store.put(claim.ref, tampered);
    const error = await checks.checkOut(checkedIn).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClaimCheckIntegrityError);
    expect(error).toMatchObject({ code: 'CLAIM_CHECK_INTEGRITY', reason: 'hash-mismatch', ref: claim.ref });
  });

  it('detects a blob of another size', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 10 });
    const checkedIn = await checks.checkIn(message(big(100)));
    const claim = checkedIn.payload as Claim;
    await store.put(claim.ref, Buffer.alloc(10_000, 1));
    await expect(checks.checkOut(checkedIn)).rejects.toMatchObject({ reason: 'size-mismatch' });
    await store.put(claim.ref, Buffer.from('{}'));
    await expect(checks.checkOut(checkedIn)).rejects.toMatchObject({ reason: 'size-mismatch' });
  });

  it('reports a missing blob', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 10 });
    const checkedIn = await checks.checkIn(message(big(100)));
    await store.delete((checkedIn.payload as Claim).ref);
    await expect(checks.checkOut(checkedIn)).rejects.toMatchObject({
      name: 'ClaimCheckIntegrityError',
      reason: 'missing',
    });
    await expect(checks.checkOutStream(checkedIn.payload as Claim)).rejects.toMatchObject({ reason: 'missing' });
  });

  it('rejects malformed claims and refs that point outside the store', async () => {
    const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 10 });
    const sha256 = 'a'.repeat(64);
    const claims = [
      { ref: '../../etc/passwd', bytes: 1, sha256, contentType: 'application/json' },
      { ref: '/etc/passwd', bytes: 1, sha256, contentType: 'application/json' },
      { ref: '..%2f..%2fetc%2fpasswd', bytes: 1, sha256, contentType: 'application/json' },
      { ref: 'ok', bytes: -1, sha256, contentType: 'application/json' },
      { ref: 'ok', bytes: 1, sha256: 'not-hex', contentType: 'application/json' },
      'not a claim',
    ];
    for (const payload of claims) {
      const forged = createEnvelope({ topic: 't', type: 't', payload, headers: { [CLAIM_CHECK_HEADER]: 'v1' } });
      await expect(checks.checkOut(forged)).rejects.toMatchObject({
        name: 'ClaimCheckIntegrityError',
        reason: 'invalid-claim',
      });
    }
  });

  it('deletes the blob after check-out only when asked (fan-out keeps it by default)', async () => {
    const store = memoryBlobStore();
    const keeping = claimCheck({ store, thresholdBytes: 10 });
    const consuming = claimCheck({ store, thresholdBytes: 10, deleteAfterCheckOut: true });
    const checkedIn = await keeping.checkIn(message(big(100)));
    const ref = (checkedIn.payload as Claim).ref;
    await keeping.checkOut(checkedIn);
    await keeping.checkOut(checkedIn);
    expect(await store.head(ref)).toBeDefined();
    expect((await consuming.checkOut(checkedIn)).payload).toEqual(big(100));
    expect(await store.head(ref)).toBeUndefined();
    await expect(consuming.checkOut(checkedIn)).rejects.toMatchObject({ reason: 'missing' });
  });

  it('does not delete a blob whose check-out failed verification', async () => {
    const store = memoryBlobStore();
    const consuming = claimCheck({ store, thresholdBytes: 10, deleteAfterCheckOut: true });
    const checkedIn = await consuming.checkIn(message(big(100)));
    const ref = (checkedIn.payload as Claim).ref;
    await store.put(ref, Buffer.from('garbage'));
    await expect(consuming.checkOut(checkedIn)).rejects.toBeInstanceOf(ClaimCheckIntegrityError);
    expect(await store.head(ref)).toBeDefined();
  });

  it('sweeps checked-in blobs once their time to live has passed', async () => {
    const clock = manualClock(0);
    const store = memoryBlobStore({ clock });
    const checks = claimCheck({ store, thresholdBytes: 10, ttlMs: 60_000 });
    const early = await checks.checkIn(message(big(100)));
    clock.advance(30_000);
    const late = await checks.checkIn(message(big(100)));
    clock.advance(30_000);
    expect(await checks.sweepExpired()).toBe(1);
    await expect(checks.checkOut(early)).rejects.toMatchObject({ reason: 'missing' });
    expect((await checks.checkOut(late)).payload).toEqual(big(100));
    clock.advance(30_000);
    expect(await checks.sweepExpired()).toBe(1);
  });

  it('streams in and out with the hash checked on the way', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 10 });
    const chunks = Array.from({ length: 10 }, (_, index) => Buffer.alloc(100_000, index));
    const claim = await checks.checkInStream(Readable.from(chunks), { contentType: 'application/pdf' });
    const whole = Buffer.concat(chunks);
    expect(claim).toMatchObject({ bytes: whole.byteLength, contentType: 'application/pdf' });
    expect(claim.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
    expect((await readAll(await checks.checkOutStream(claim))).equals(whole)).toBe(true);

    const altered = Buffer.from(whole);
    altered[500_000] = 255;
    await store.put(claim.ref, altered);
    await expect(readAll(await checks.checkOutStream(claim))).rejects.toMatchObject({ reason: 'hash-mismatch' });
    await store.put(claim.ref, Buffer.concat([whole, Buffer.from('more')]));
    await expect(readAll(await checks.checkOutStream(claim))).rejects.toMatchObject({ reason: 'size-mismatch' });
  });

  it('deletes a streamed blob once it was read whole and verified, when asked', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 10, deleteAfterCheckOut: true });
    const claim = await checks.checkInStream(Readable.from([Buffer.from('streamed body')]));
    const stream = await checks.checkOutStream(claim);
    expect(await store.head(claim.ref)).toBeDefined();
    expect((await readAll(stream)).toString()).toBe('streamed body');
    expect(await store.head(claim.ref)).toBeUndefined();
  });

  it('leaves nothing in the store when a streamed check-in fails', async () => {
    const store = memoryBlobStore({ clock: manualClock() });
    const checks = claimCheck({ store, thresholdBytes: 10, ttlMs: 1 });
    const failing = (async function* () {
      yield Buffer.from('partial');
      throw new Error('upload broke');
    })();
    await expect(checks.checkInStream(failing)).rejects.toThrow('upload broke');
    expect(await store.sweepExpired()).toBe(0);
  });

  it('honours an aborted signal', async () => {
    const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 10 });
    const reason = new Error('stop');
    await expect(checks.checkIn(message(big(100)), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(
      checks.checkInStream(Readable.from([Buffer.from('x')]), { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
  });

  it('emits check-in, check-out and integrity events', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 10 });
    const seen: string[] = [];
    checks.on('claim-checked-in', ({ bytes, streamed }) => seen.push(`in ${bytes} ${streamed}`));
    checks.on('claim-checked-out', ({ bytes, streamed }) => seen.push(`out ${bytes} ${streamed}`));
    checks.on('claim-integrity-failed', ({ reason }) => seen.push(`failed ${reason}`));
    const checkedIn = await checks.checkIn(message(big(100)));
    await checks.checkOut(checkedIn);
    const claim = await checks.checkInStream(Readable.from([Buffer.from('abc')]));
    await readAll(await checks.checkOutStream(claim));
    await store.put(claim.ref, Buffer.from('abd'));
    await readAll(await checks.checkOutStream(claim)).catch(() => undefined);
    await store.delete((checkedIn.payload as Claim).ref);
    await checks.checkOut(checkedIn).catch(() => undefined);
    expect(seen).toEqual([
      'in 111 false',
      'out 111 false',
      'in 3 true',
      'out 3 true',
      'failed hash-mismatch',
      'failed missing',
    ]);
  });

  it('validates its options, reporting every problem', () => {
    const error = (() => {
      try {
        claimCheck({ store: {} as never, thresholdBytes: -1, ttlMs: 0, refPrefix: '../' });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).problems).toHaveLength(4);
  });
});
