import { createEnvelope, type Envelope, resolveOutboxRelayOptions, startOutboxRelay } from '@bulwark/messaging';
import { constant } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { memoryRelaySource } from './fixtures/memory-relay-source.js';

type Step =
  | { kind: 'add'; topic: 'a' | 'b'; key: 'x' | 'y' | 'z'; count: number }
  | { kind: 'broker'; up: boolean }
  | { kind: 'failTopic'; topic: 'a' | 'b' | undefined }
  | { kind: 'storeFailure' }
  | { kind: 'advance'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('add' as const),
    topic: fc.constantFrom('a' as const, 'b' as const),
    key: fc.constantFrom('x' as const, 'y' as const, 'z' as const),
    count: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({ kind: fc.constant('broker' as const), up: fc.boolean() }),
  fc.record({ kind: fc.constant('failTopic' as const), topic: fc.constantFrom('a' as const, 'b' as const, undefined) }),
  fc.record({ kind: fc.constant('storeFailure' as const) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }),
);

it('publishes every message at least once, removes none before it is published, and keeps per-key order, whatever fails (reading the next batch while publishing or not, removing on the next read or not, several publishes in flight or one)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { maxLength: 40 }),
      fc.integer({ min: 1, max: 5 }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 1, max: 4 }),
      async (steps, batchSize, prefetch, claimRemoves, publishConcurrency) => {
        const clock = manualClock(0);
        const source = memoryRelaySource(clock, { prefetch, claimRemoves });
        let brokerUp = true;
        let failingTopic: string | undefined;
        const published: Envelope[] = [];
        const publishedIds = new Set<string>();
        const added: Envelope[] = [];
        const removedUnpublished: string[] = [];
        // A row may leave the outbox only after its message was published.
        const remove = source.acquire.bind(source);
        source.acquire = async (signal) => {
          const session = await remove(signal);
          const original = session.remove.bind(session);
          // The fixture's claim removes through session.remove too, so this sees every removal.
          session.remove = async (records) => {
            // Recorded, not thrown: the relay would take a throw for a store failure and retry.
            for (const record of records)
              if (!publishedIds.has(record.message.id)) removedUnpublished.push(record.message.id);
            await original(records);
          };
          return session;
        };
        const relay = startOutboxRelay(
          source,
          resolveOutboxRelayOptions(
            {
              batchSize,
              publishConcurrency,
              pollIntervalMs: 50,
              backoff: constant({ ms: 20 }),
              transport: {
                async publish(topic, messages) {
                  // A broker answers later: the relay's next read (with prefetch) runs meanwhile.
                  await Promise.resolve();
                  if (!brokerUp || topic === failingTopic) throw new Error('unavailable');
                  published.push(...messages);
                  for (const message of messages) publishedIds.add(message.id);
                },
              },
            },
            clock,
          ),
        );
        let sequence = 0;
        for (const current of steps) {
          if (current.kind === 'add') {
            const messages = Array.from({ length: current.count }, () =>
              createEnvelope({ topic: current.topic, type: 't', key: current.key, payload: sequence++ }),
            );
            added.push(...messages);
            source.add(...messages);
          } else if (current.kind === 'broker') brokerUp = current.up;
          else if (current.kind === 'failTopic') failingTopic = current.topic;
          else if (current.kind === 'storeFailure') source.failNextClaim(new Error('connection lost'));
          else await clock.advanceAsync(current.ms);
        }
        brokerUp = true;
        failingTopic = undefined;
        await clock.advanceAsync(1_000);
        await relay.close();

        expect(removedUnpublished).toEqual([]);
        expect(source.rows).toEqual([]);
        expect([...publishedIds].sort()).toEqual(added.map((message) => message.id).sort());
        const firstSeen: Envelope[] = [];
        const seen = new Set<string>();
        for (const message of published)
          if (!seen.has(message.id)) {
            seen.add(message.id);
            firstSeen.push(message);
          }
        for (const topic of ['a', 'b'])
          for (const key of ['x', 'y', 'z']) {
            const order = (list: Envelope[]) =>
              list
                .filter((message) => message.topic === topic && message.key === key)
                .map((message) => message.payload);
            expect(order(firstSeen)).toEqual(order(added));
          }
      },
    ),
    { numRuns: 300 },
  );
});
