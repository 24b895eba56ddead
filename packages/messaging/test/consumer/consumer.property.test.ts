import { consume, createEnvelope, memoryTransport } from '@bulwark/messaging';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const groups = ['A', 'B', 'C', 'D'];

describe('consume with ordering: fifo-group (property)', () => {
  it('completes each group in publish order whatever the handler failures, retries and dead letters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ group: fc.integer({ min: 0, max: 3 }), failures: fc.integer({ min: 0, max: 4 }) }), {
          minLength: 1,
          maxLength: 25,
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('per-key' as const, 'none' as const),
        fc.integer({ min: 1, max: 5 }),
        async (plan, concurrency, transportOrdering, batchSize) => {
          const clock = manualClock(0);
          const transport = memoryTransport({ clock, ordering: transportOrdering });
          const attempts = new Map<number, number>();
          const completed = new Map<string, number[]>();
          const finish = (index: number) => {
            const group = groups[(plan[index] as { group: number }).group] as string;
            completed.set(group, [...(completed.get(group) ?? []), index]);
          };
          const consumer = await consume(transport, {
            topic: 'orders',
            group: 'workers',
            clock,
            concurrency,
            ordering: 'fifo-group',
            // Up to 4 attempts: a message failing 4 times is dead-lettered, which also completes it.
            retry: [10, 20, 30],
            deadLetter: 'orders.dlq',
            handler: async (message) => {
              const index = (message.payload as { index: number }).index;
              const attempt = (attempts.get(index) ?? 0) + 1;
              attempts.set(index, attempt);
              if (attempt <= (plan[index] as { failures: number }).failures) throw new Error(`fail ${index}`);
              finish(index);
            },
          });
          consumer.on('message-dead-lettered', ({ message }) => finish((message.payload as { index: number }).index));
          const envelopes = plan.map((step, index) =>
            createEnvelope({ topic: 'orders', type: 't', payload: { index }, groupId: groups[step.group] }),
          );
          for (let start = 0; start < envelopes.length; start += batchSize) {
            await transport.publish('orders', envelopes.slice(start, start + batchSize));
          }
          const total = () => [...completed.values()].reduce((sum, list) => sum + list.length, 0);
          for (let step = 0; step < 400 && total() < plan.length; step++) await clock.advanceAsync(10);
          expect(total()).toBe(plan.length);
          for (const [position, group] of groups.entries()) {
            const expected = plan.flatMap((step, index) => (step.group === position ? [index] : []));
            expect(completed.get(group) ?? []).toEqual(expected);
          }
          const closing = consumer.close();
          await clock.runAllAsync();
          await closing;
          await transport.close();
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);
});
