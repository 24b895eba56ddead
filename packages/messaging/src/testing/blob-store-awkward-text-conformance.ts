// Awkward text for the BlobStore conformance suite, kept apart from the main cases: refs are a
// safe ASCII alphabet, so every awkward ref (NUL, lone surrogates, 64 KiB, emoji, right-to-left
// marks) is refused before any write; bodies carry any text as bytes, unchanged.
import { largeStorableText, storableTexts, unstorableKeys, unstorableTexts } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import type { BlobStore } from '../claim-check/blob-store.js';

/** Registers the awkward-text cases inside a store's conformance `describe`. */
export function blobStoreAwkwardTextConformance(setup: () => Promise<{ store: BlobStore }>): void {
  describe('awkward text', () => {
    const refused = { ...unstorableKeys, ...storableTexts };
    for (const [label, text] of Object.entries(refused)) {
      it(`refuses a ref with ${label} in every call, with INVALID_BLOB_REF, and writes nothing`, async () => {
        const { store } = await setup();
        for (const ref of [text, `awkward/${text}`]) {
          await expect(store.put(ref, Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_BLOB_REF' });
          await expect(store.get(ref)).rejects.toMatchObject({ code: 'INVALID_BLOB_REF' });
          await expect(store.head(ref)).rejects.toMatchObject({ code: 'INVALID_BLOB_REF' });
          await expect(store.delete(ref)).rejects.toMatchObject({ code: 'INVALID_BLOB_REF' });
        }
      });
    }

    it('carries any text in a body, as UTF-8 bytes, unchanged', async () => {
      const { store } = await setup();
      const body = Buffer.from(JSON.stringify({ ...storableTexts, ...unstorableTexts, large: largeStorableText }));
      await store.put('awkward/body', body, { contentType: 'application/json; charset=utf-8' });
      // Compared as bytes: a deep equality over ~200 kB would take seconds.
      expect((await store.get('awkward/body'))?.equals(body)).toBe(true);
      expect(await store.head('awkward/body')).toMatchObject({ contentType: 'application/json; charset=utf-8' });
    });

    for (const contentType of ['text/plain\u0000', 'text/🛒', 'text/\ud83d', '', 'x'.repeat(300)]) {
      it(`refuses the content type ${JSON.stringify(contentType.slice(0, 20))} with INVALID_VALUE, and writes nothing`, async () => {
        const { store } = await setup();
        await expect(store.put('awkward/typed', Buffer.from('x'), { contentType })).rejects.toMatchObject({
          code: 'INVALID_VALUE',
          field: 'contentType',
        });
        expect(await store.head('awkward/typed')).toBeUndefined();
      });
    }
  });
}
