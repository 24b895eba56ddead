import { type Claim, claimCheck, createEnvelope, memoryBlobStore } from '@bulwark/messaging';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('claimCheck (property)', () => {
  it('check-out after check-in gives back what a JSON transport would carry, inline or claimed', async () => {
    const store = memoryBlobStore();
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.integer({ min: 0, max: 200 }), async (payload, thresholdBytes) => {
        const checks = claimCheck({ store, thresholdBytes });
        const message = createEnvelope({ topic: 't', type: 't', payload });
        const checkedIn = await checks.checkIn(message);
        const size = Buffer.byteLength(JSON.stringify(payload));
        expect(checks.isCheckedIn(checkedIn)).toBe(size > thresholdBytes);
        if (checks.isCheckedIn(checkedIn)) expect((checkedIn.payload as Claim).bytes).toBe(size);
        // Through the wire and back, as a consumer sees it.
        const received = JSON.parse(JSON.stringify(checkedIn));
        const restored = await checks.checkOut(received);
        expect(restored.payload).toEqual(JSON.parse(JSON.stringify(payload)));
        expect(restored.headers).toEqual(message.headers);
      }),
      { numRuns: 300 },
    );
  });

  it('any single-byte change to a claimed blob is detected', async () => {
    const store = memoryBlobStore();
    const checks = claimCheck({ store, thresholdBytes: 0 });
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (bytes, position, flip) => {
          const checkedIn = await checks.checkIn(createEnvelope({ topic: 't', type: 't', payload: bytes }));
          const claim = checkedIn.payload as Claim;
          const altered = Buffer.from(bytes);
          const index = position % altered.length;
          altered[index] = (altered[index] as number) ^ flip;
          await store.put(claim.ref, altered);
          await expect(checks.checkOut(checkedIn)).rejects.toMatchObject({ reason: 'hash-mismatch' });
        },
      ),
      { numRuns: 200 },
    );
  });
});
