// Awkward text for the IdempotencyStore conformance suite, kept apart from the main cases: keys,
// fingerprints and outcomes every store must keep unchanged, and keys every store must refuse
// before any write.
import { storableTexts, unstorableKeys, unstorableTexts } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import type { IdempotencyStore } from '../idempotency/idempotency-store.js';

const invalidValue = (field: string) => ({ name: 'InvalidMessagingValueError', code: 'INVALID_VALUE', field });

/** Registers the awkward-text cases inside a store's conformance `describe`. */
export function idempotencyStoreAwkwardTextConformance(store: () => IdempotencyStore, unique: () => string): void {
  const leaseMs = 60_000;

  describe('awkward text', () => {
    for (const [label, text] of Object.entries(storableTexts)) {
      it(`keeps a key, fingerprint and outcome with ${label} unchanged`, async () => {
        // The longest key keeps its length: its ASCII head makes room for a unique prefix.
        const prefix = `${unique()}:`;
        const key = `${prefix}${label === 'longest key' ? text.slice(prefix.length) : text}`;
        const begun = await store().begin(key, text, leaseMs);
        if (begun.kind !== 'acquired') throw new Error(`expected to acquire ${label}`);
        expect(await store().get(key)).toMatchObject({ status: 'in-progress', fingerprint: text });
        // Outcomes are opaque strings: NUL is kept too.
        const outcome = `${text}\u0000${JSON.stringify(unstorableTexts)}`;
        expect(await store().complete(key, begun.leaseToken, outcome, leaseMs)).toBe(true);
        expect(await store().get(key)).toMatchObject({ status: 'completed', fingerprint: text, outcome });
        // A neighbour that differs in the last character is another key.
        expect(await store().get(`${key.slice(0, -2)}🛍`)).toBeUndefined();
        await store().delete(key);
        expect(await store().get(key)).toBeUndefined();
      });
    }

    for (const [label, text] of Object.entries(unstorableKeys)) {
      it(`refuses a key with ${label} in every call, with INVALID_VALUE`, async () => {
        for (const call of [
          () => store().begin(text, 'fp', leaseMs),
          () => store().complete(text, 'token', 'outcome', leaseMs),
          () => store().release(text, 'token'),
          () => store().get(text),
          () => store().delete(text),
          ...(store().renew ? [() => store().renew?.(text, 'token', leaseMs) as Promise<boolean>] : []),
        ]) {
          await expect(call()).rejects.toMatchObject(invalidValue('key'));
        }
      });
    }

    for (const [label, text] of Object.entries(unstorableTexts)) {
      it(`refuses a fingerprint with ${label}, and writes nothing`, async () => {
        const key = unique();
        await expect(store().begin(key, text, leaseMs)).rejects.toMatchObject(invalidValue('fingerprint'));
        expect(await store().get(key)).toBeUndefined();
      });
    }

    it('refuses an outcome with a lone surrogate, and keeps the key in progress', async () => {
      const key = unique();
      const begun = await store().begin(key, 'fp', leaseMs);
      if (begun.kind !== 'acquired') throw new Error('expected to acquire');
      await expect(store().complete(key, begun.leaseToken, 'half \ud83d', leaseMs)).rejects.toMatchObject(
        invalidValue('outcome'),
      );
      expect(await store().get(key)).toMatchObject({ status: 'in-progress' });
    });
  });
}
