// Awkward keys for the RateLimitStore conformance suite, kept apart from the main cases: keys
// every backend must hold unchanged, and keys every store must refuse before any write.
import { describe, expect, it } from 'vitest';
import { fixedWindow } from '../rate-limit/algorithms.js';
import type { RateLimitStore } from '../rate-limit/rate-limit-store.js';
import { storableTexts, unstorableKeys } from './awkward-text.js';

/** Registers the awkward-key cases inside a store's conformance `describe`. */
export function rateLimitStoreAwkwardKeys(store: () => Promise<RateLimitStore>, keyPrefix: string): void {
  const algorithm = fixedWindow({ limit: 2, windowMs: 3_600_000 });

  describe('awkward keys', () => {
    for (const [label, text] of Object.entries(storableTexts)) {
      it(`keeps a key with ${label} apart from its neighbours, and resets it`, async () => {
        const subject = await store();
        // The longest key keeps its length (its ASCII head makes room for the prefix); the
        // neighbour differs only in the last character.
        const key = `${keyPrefix}:${label === 'longest key' ? text.slice(keyPrefix.length + 1) : text}`;
        const neighbour = `${key.slice(0, -2)}🛍`;
        await subject.reset(key);
        expect((await subject.consume(key, algorithm, 2)).allowed).toBe(true);
        expect((await subject.consume(key, algorithm, 1)).allowed).toBe(false);
        expect((await subject.peek(neighbour, algorithm)).remaining).toBe(2);
        await subject.reset(key);
        expect((await subject.peek(key, algorithm)).remaining).toBe(2);
      });
    }

    for (const [label, key] of Object.entries(unstorableKeys)) {
      it(`refuses a key with ${label} on consume, peek and reset with INVALID_VALUE`, async () => {
        const subject = await store();
        for (const call of [
          () => subject.consume(key, algorithm, 1),
          () => subject.peek(key, algorithm),
          () => subject.reset(key),
        ]) {
          await expect(call()).rejects.toMatchObject({
            name: 'InvalidValueError',
            code: 'INVALID_VALUE',
            field: 'key',
          });
        }
      });
    }
  });
}
