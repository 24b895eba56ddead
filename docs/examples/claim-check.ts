import { type ClaimCheckIntegrityError, claimCheck, createEnvelope, memoryBlobStore } from '@bulwark/messaging';

const blobs = memoryBlobStore(); // fsBlobStore({ dir }) on one machine, s3BlobStore(minio, { bucket }) across machines
const checks = claimCheck({ store: blobs, thresholdBytes: 1024 });

const document = { orderId: 'o-42', lines: Array.from({ length: 200 }, (_, line) => ({ line, sku: 'tent' })) };
const message = createEnvelope({ topic: 'invoices', type: 'invoice.issued', payload: document });

// Producer: the big payload goes to the blob store; the message carries a small, verifiable claim.
const slim = await checks.checkIn(message);
const claim = slim.payload as unknown as { ref: string; bytes: number; sha256: string; contentType: string };
console.log(slim.headers.claimCheck, claim.contentType, claim.bytes > 1024, slim.id === message.id);

// Consumer: checks the claim out, verifying size and SHA-256.
const restored = await checks.checkOut<typeof document>(slim);
console.log(restored.payload.lines.length, restored.payload.orderId);

// Small payloads stay inline: checkIn returns the message itself.
const small = createEnvelope({ topic: 'invoices', type: 'invoice.voided', payload: { orderId: 'o-42' } });
console.log((await checks.checkIn(small)) === small);

// An altered or missing blob is detected.
await blobs.delete(claim.ref);
await checks
  .checkOut(slim)
  .catch((error: unknown) =>
    console.log((error as ClaimCheckIntegrityError).code, (error as ClaimCheckIntegrityError).reason),
  );
// v1 application/json true true
// 200 o-42
// true
// CLAIM_CHECK_INTEGRITY missing
