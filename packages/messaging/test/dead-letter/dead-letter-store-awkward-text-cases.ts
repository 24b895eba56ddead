// Awkward text in dead letters, kept apart from the main cases. Transports carry any payload text
// (NUL and lone surrogates included), so whatever reaches a dead-letter topic must be stored and
// listed back unchanged, or it could never leave the dead-letter topic.
import { createEnvelope, type DeadLetterStore, deadLetterHeaders } from '@bulwark/messaging';
import { largeStorableText, storableTexts, unstorableTexts } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

export function deadLetterStoreAwkwardTextCases(open: () => Promise<DeadLetterStore> | DeadLetterStore): void {
  describe('awkward text', () => {
    it('keeps payloads with NUL, lone surrogates, emoji, right-to-left marks and 64 KiB text unchanged', async () => {
      const store = await open();
      const texts = { ...unstorableTexts, ...storableTexts };
      const letters = Object.entries(texts).map(([label, text], index) =>
        createEnvelope({
          id: `awkward-${index}-${Date.now()}`,
          topic: 'dlq',
          type: 'order.placed',
          payload: { label, text, [text]: [text], large: largeStorableText },
          headers: { [deadLetterHeaders.originalTopic]: 'orders', [deadLetterHeaders.error]: 'boom' },
        }),
      );
      for (const message of letters) await store.add(message);
      const listed = await store.list({ limit: 100 });
      const byId = new Map(listed.map((entry) => [entry.message.id, entry.message]));
      for (const message of letters) expect(byId.get(message.id)).toEqual(message);
      expect(await store.remove({ ids: letters.map((message) => message.id) })).toBe(letters.length);
      await store.close();
    });
  });
}
