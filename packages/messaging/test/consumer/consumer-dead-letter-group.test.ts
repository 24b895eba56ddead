// Regression (issue 16): dead letters for a dead-letter topic nobody had subscribed to were lost
// on RabbitMQ. consume() now declares the dead-letter topic's group when it starts.
import {
  consume,
  consumerDefaults,
  createEnvelope,
  deadLetterQueue,
  memoryDeadLetterStore,
  memoryTransport,
} from '@bulwark/messaging';
import { InvalidOptionsError } from '@bulwark/resilience';
import { describe, expect, it } from 'vitest';

const flush = async (rounds = 10) => {
  for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('consume: the dead-letter group', () => {
  it('declares the dead-letter group at start, which deadLetterQueue() then reads', async () => {
    const transport = memoryTransport();
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      retry: false,
      deadLetter: 'orders.dead-letter',
      handler: () => {
        throw new Error('broken');
      },
    });
    expect(transport.snapshot()).toContainEqual(
      expect.objectContaining({ topic: 'orders.dead-letter', group: consumerDefaults.deadLetterGroup }),
    );
    // A second group appears on the dead-letter topic before the failure: the dead letter goes to
    // both groups, and the declared one still has it for the queue that starts later.
    await transport.subscribe('orders.dead-letter', 'audit', async () => {});
    await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload: {} })]);
    await flush();
    expect(consumer.snapshot().deadLettered).toBe(1);
    await consumer.close();
    const store = memoryDeadLetterStore();
    const queue = await deadLetterQueue(transport, { topic: 'orders.dead-letter', store });
    for (let round = 0; round < 20 && (await store.list()).length === 0; round++) await flush();
    expect((await store.list()).map((letter) => letter.originalTopic)).toEqual(['orders']);
    await queue.close();
    await transport.close();
  });

  it('declares nothing with deadLetterGroup: false, or without a dead-letter topic', async () => {
    const transport = memoryTransport();
    const withoutGroup = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      deadLetter: 'orders.dead-letter',
      deadLetterGroup: false,
      handler: () => {},
    });
    const withoutTopic = await consume(transport, { topic: 'payments', group: 'billing', handler: () => {} });
    expect(transport.snapshot().map((group) => group.topic)).toEqual(['orders', 'payments']);
    await withoutGroup.close();
    await withoutTopic.close();
    await transport.close();
  });

  it('rejects an empty deadLetterGroup', async () => {
    await expect(
      consume(memoryTransport(), {
        topic: 'orders',
        group: 'billing',
        deadLetter: 'orders.dead-letter',
        deadLetterGroup: '',
        handler: () => {},
      }),
    ).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});
