// Invariant (issue 16): no publish is accepted and dropped. On the memory transport
// (`unroutable: 'held'`) a message reaches every group its topic had when it was published, or,
// published while its topic had no group, the topic's first group.
import { createEnvelope, memoryTransport } from '@bulwark/messaging';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

type Operation =
  | { readonly kind: 'publish'; readonly topic: string; readonly count: number }
  | { readonly kind: 'declare'; readonly topic: string; readonly group: string };

const topics = ['orders', 'payments'];
const groups = ['billing', 'shipping', 'audit'];

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant('publish' as const),
    topic: fc.constantFrom(...topics),
    count: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('declare' as const),
    topic: fc.constantFrom(...topics),
    group: fc.constantFrom(...groups),
  }),
);

const flush = async (rounds = 10) => {
  for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('memoryTransport: held messages (property)', () => {
  it('delivers each message to the groups of its topic at publish time, or else to its first group', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 25 }), async (operations) => {
        const transport = memoryTransport();
        /** The model: groups per topic, and the message ids each (topic, group) must receive. */
        const groupsOf = new Map<string, string[]>(topics.map((topic) => [topic, []]));
        const held = new Map<string, string[]>(topics.map((topic) => [topic, []]));
        const expected = new Map<string, string[]>();
        for (const step of operations) {
          const existing = groupsOf.get(step.topic) as string[];
          if (step.kind === 'declare') {
            transport.declareGroup(step.topic, step.group);
            if (existing.includes(step.group)) continue;
            existing.push(step.group);
            // The first group of a topic takes what was held for it.
            const waiting = held.get(step.topic) as string[];
            expected.set(`${step.topic}/${step.group}`, existing.length === 1 ? [...waiting] : []);
            waiting.length = 0;
            continue;
          }
          const messages = Array.from({ length: step.count }, () =>
            createEnvelope({ topic: step.topic, type: 'test', payload: {} }),
          );
          await transport.publish(step.topic, messages);
          const ids = messages.map((message) => message.id);
          if (existing.length === 0) held.get(step.topic)?.push(...ids);
          for (const group of existing) expected.get(`${step.topic}/${group}`)?.push(...ids);
        }
        const received = new Map<string, string[]>();
        for (const [topic, declared] of groupsOf) {
          for (const group of declared) {
            const ids: string[] = [];
            received.set(`${topic}/${group}`, ids);
            await transport.subscribe(topic, group, async (delivery) => {
              ids.push(delivery.message.id);
            });
          }
        }
        await flush();
        await transport.close({ deadlineMs: 0 });
        expect(received).toEqual(expected);
        // What is still held belongs to topics that never got a group.
        for (const [topic, waiting] of held) if (waiting.length > 0) expect(groupsOf.get(topic)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
