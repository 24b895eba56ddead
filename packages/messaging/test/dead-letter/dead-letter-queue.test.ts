import {
  consume,
  createEnvelope,
  deadLetterHeaders,
  deadLetterQueue,
  memoryDeadLetterStore,
  memoryTransport,
  NonRetryableError,
} from '@bulwark/messaging';
import { describe, expect, it } from 'vitest';

const flush = async (rounds = 10) => {
  for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('deadLetterQueue', () => {
  it('collects what consumers dead-letter, replays it to its topic, purges the rest', async () => {
    const transport = memoryTransport();
    const store = memoryDeadLetterStore();
    const dlq = await deadLetterQueue(transport, { topic: 'orders.dlq', store });
    let broken = true;
    const handled: string[] = [];
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      retry: false,
      deadLetter: 'orders.dlq',
      handler: async (message) => {
        if (broken) throw new NonRetryableError('billing is broken');
        handled.push(message.id);
      },
    });
    const messages = [1, 2, 3].map((index) =>
      createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index }, headers: { correlationId: 'c' } }),
    );
    await transport.publish('orders', messages);
    await flush();
    const letters = await dlq.list();
    expect(letters.map((letter) => letter.message.id)).toEqual(messages.map((message) => message.id));
    expect(letters[0]?.originalTopic).toBe('orders');
    expect(letters[0]?.message.headers[deadLetterHeaders.error]).toBe('billing is broken');

    broken = false;
    expect(await dlq.replay({ ids: [messages[0]?.id as string, messages[1]?.id as string] })).toBe(2);
    await flush();
    // Replayed with the same id and original headers, failure headers gone.
    expect(handled).toEqual([messages[0]?.id, messages[1]?.id]);
    expect((await dlq.list()).map((letter) => letter.message.id)).toEqual([messages[2]?.id]);

    expect(await dlq.purge()).toBe(1);
    expect(await dlq.list()).toEqual([]);
    await consumer.close();
    await dlq.close();
    await transport.close();
  });

  it('strips the failure headers on replay, keeping the others', async () => {
    const transport = memoryTransport();
    const store = memoryDeadLetterStore();
    const dlq = await deadLetterQueue(transport, { topic: 'orders.dlq', store });
    const replayed: Record<string, string | undefined>[] = [];
    await transport.subscribe('orders', 'audit', async ({ message }) => {
      replayed.push(message.headers);
    });
    await transport.publish('orders.dlq', [
      createEnvelope({
        topic: 'orders.dlq',
        type: 't',
        payload: {},
        headers: { traceparent: 'tp', [deadLetterHeaders.originalTopic]: 'orders', [deadLetterHeaders.attempts]: '4' },
      }),
    ]);
    await flush();
    expect(await dlq.replay()).toBe(1);
    await flush();
    expect(replayed).toHaveLength(1);
    expect(replayed[0]?.traceparent).toBe('tp');
    expect(Object.keys(replayed[0] ?? {}).filter((name) => name.startsWith('x-dead-letter'))).toEqual([]);
    await dlq.close();
    await transport.close();
  });
});
