// The behaviour every DeadLetterStore shares, run on memory (unit) and PostgreSQL (integration).
import { createEnvelope, type DeadLetterStore, deadLetterHeaders } from '@bulwark/messaging';
import { describe, expect, it } from 'vitest';
import { deadLetterStoreAwkwardTextCases } from './dead-letter-store-awkward-text-cases.js';

const letter = (id: string, originalTopic: string, error = 'boom') =>
  createEnvelope({
    id,
    topic: 'dlq',
    type: 'order.placed',
    payload: { id },
    headers: { [deadLetterHeaders.originalTopic]: originalTopic, [deadLetterHeaders.error]: error },
  });

export function deadLetterStoreCases(name: string, open: () => Promise<DeadLetterStore> | DeadLetterStore): void {
  describe(`${name} (DeadLetterStore)`, () => {
    it('lists dead letters oldest first, filtered by original topic, limited', async () => {
      const store = await open();
      const a = letter('a', 'orders');
      await store.add(a);
      await store.add(letter('b', 'payments'));
      await store.add(letter('c', 'orders'));
      expect((await store.list()).map((entry) => entry.message.id)).toEqual(['a', 'b', 'c']);
      expect((await store.list({ originalTopic: 'orders' })).map((entry) => entry.message.id)).toEqual(['a', 'c']);
      expect((await store.list({ limit: 1 })).map((entry) => entry.message.id)).toEqual(['a']);
      const [first] = await store.list();
      expect(first?.originalTopic).toBe('orders');
      expect(first?.message).toEqual(a);
      await store.close();
    });

    it('replaces an id added again (the message failed again)', async () => {
      const store = await open();
      await store.add(letter('a', 'orders', 'first failure'));
      await store.add(letter('a', 'orders', 'second failure'));
      const list = await store.list();
      expect(list).toHaveLength(1);
      expect(list[0]?.message.headers[deadLetterHeaders.error]).toBe('second failure');
      await store.close();
    });

    it('removes by ids, by topic, or everything', async () => {
      const store = await open();
      for (const [id, topic] of [
        ['a', 'orders'],
        ['b', 'payments'],
        ['c', 'orders'],
        ['d', 'payments'],
      ] as const) {
        await store.add(letter(id, topic));
      }
      expect(await store.remove({ ids: ['a', 'zzz'] })).toBe(1);
      expect(await store.remove({ originalTopic: 'payments' })).toBe(2);
      expect((await store.list()).map((entry) => entry.message.id)).toEqual(['c']);
      expect(await store.remove()).toBe(1);
      expect(await store.list()).toEqual([]);
      await store.close();
    });

    deadLetterStoreAwkwardTextCases(open);
  });
}
