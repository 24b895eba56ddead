// Awkward text for the AsyncReplyStore conformance suite, kept apart from the main cases: ids,
// kinds, results and errors every store must keep unchanged, and values every store must refuse
// before any write.
import { storableTexts, unstorableKeys, unstorableTexts } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import type { AsyncReplyStore } from '../async-reply/async-reply-store.js';

const invalidValue = (field: string) => ({ name: 'InvalidMessagingValueError', code: 'INVALID_VALUE', field });

/** Registers the awkward-text cases inside a store's conformance `describe`. */
export function asyncReplyStoreAwkwardTextConformance(
  setup: () => Promise<AsyncReplyStore>,
  unique: () => string,
): void {
  const now = 1_700_000_000_000;
  const expiresAt = now + 600_000;

  describe('awkward text', () => {
    for (const [label, text] of Object.entries(storableTexts)) {
      it(`keeps an id, kind, result and error with ${label} unchanged`, async () => {
        const store = await setup();
        const prefix = `${unique()}:`;
        const id = `${prefix}${label === 'longest key' ? text.slice(prefix.length) : text}`;
        expect(await store.create({ id, kind: text, createdAt: now, expiresAt })).toBe(true);
        expect(await store.start(id, { now, runId: text, leaseUntil: now + 1_000 })).toMatchObject({ id, kind: text });
        const result = JSON.stringify({ text, escaped: unstorableTexts });
        expect(
          await store.finish(id, { now, runId: text, expiresAt, status: 'succeeded', result, resultClaimed: false }),
        ).toBe(true);
        expect(await store.get(id, now)).toMatchObject({ id, kind: text, status: 'succeeded', result });

        const failedId = `${id.slice(0, -2)}🛍`;
        await store.create({ id: failedId, kind: 'k', createdAt: now, expiresAt });
        await store.start(failedId, { now, runId: 'run', leaseUntil: now + 1_000 });
        const error = { name: text, message: `${text} failed`, code: text };
        await store.finish(failedId, { now, runId: 'run', expiresAt, status: 'failed', error });
        expect(await store.get(failedId, now)).toMatchObject({ status: 'failed', error });
      });
    }

    for (const [label, text] of Object.entries(unstorableKeys)) {
      it(`refuses an id or a kind with ${label} in every call, with INVALID_VALUE`, async () => {
        const store = await setup();
        await expect(store.create({ id: text, kind: 'k', createdAt: now, expiresAt })).rejects.toMatchObject(
          invalidValue('id'),
        );
        const id = unique();
        await expect(store.create({ id, kind: text, createdAt: now, expiresAt })).rejects.toMatchObject(
          invalidValue('kind'),
        );
        expect(await store.get(id, now)).toBeUndefined();
        await expect(store.get(text, now)).rejects.toMatchObject(invalidValue('id'));
        await expect(store.start(text, { now, runId: 'r', leaseUntil: now + 1 })).rejects.toMatchObject(
          invalidValue('id'),
        );
        await expect(
          store.finish(text, { now, runId: 'r', expiresAt, status: 'succeeded', result: '1', resultClaimed: false }),
        ).rejects.toMatchObject(invalidValue('id'));
      });
    }

    for (const [label, text] of Object.entries(unstorableTexts)) {
      it(`refuses a run id, result or error with ${label}, and leaves the run as it was`, async () => {
        const store = await setup();
        const id = unique();
        await store.create({ id, kind: 'k', createdAt: now, expiresAt });
        await expect(store.start(id, { now, runId: text, leaseUntil: now + 1 })).rejects.toMatchObject(
          invalidValue('runId'),
        );
        await store.start(id, { now, runId: 'run', leaseUntil: now + 1_000 });
        await expect(
          store.finish(id, { now, runId: 'run', expiresAt, status: 'succeeded', result: text, resultClaimed: false }),
        ).rejects.toMatchObject(invalidValue('result'));
        await expect(
          store.finish(id, { now, runId: 'run', expiresAt, status: 'failed', error: { name: 'E', message: text } }),
        ).rejects.toMatchObject(invalidValue('error.message'));
        expect(await store.get(id, now)).toMatchObject({ status: 'running', runId: 'run' });
      });
    }
  });
}
