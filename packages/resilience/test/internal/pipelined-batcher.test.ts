import { InvalidOptionsError } from '@bulwark/resilience';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pipelinedBatcher } from '../../src/internal/pipelined-batcher.js';

/** A `send` whose replies the test hands out: every call is recorded and waits to be answered. */
function controlledSend<Item>() {
  const calls: { items: readonly Item[]; answer: () => void; fail: (error: unknown) => void }[] = [];
  const send = (items: readonly Item[]) =>
    new Promise<readonly (string | Error)[]>((resolve, reject) => {
      calls.push({
        items,
        answer: () =>
          resolve(items.map((item) => (String(item).startsWith('bad') ? new Error(`bad ${item}`) : `r:${item}`))),
        fail: reject,
      });
    });
  return { calls, send };
}

/** Lets process.nextTick callbacks and promise continuations run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('pipelinedBatcher', () => {
  it('sends a lone call at once, alone', async () => {
    const { calls, send } = controlledSend<string>();
    const call = pipelinedBatcher({ send });
    const result = call('a');
    await settle();
    expect(calls.map((entry) => entry.items)).toEqual([['a']]);
    calls[0]?.answer();
    await expect(result).resolves.toBe('r:a');
  });

  it('sends one call each while there are free slots for every waiting item', async () => {
    const { calls, send } = controlledSend<string>();
    const call = pipelinedBatcher({ send, maxInFlight: 4 });
    const results = ['a', 'b', 'c'].map(call);
    await settle();
    expect(calls.map((entry) => entry.items)).toEqual([['a'], ['b'], ['c']]);
    for (const entry of calls) entry.answer();
    await expect(Promise.all(results)).resolves.toEqual(['r:a', 'r:b', 'r:c']);
  });

  it('batches what waits beyond the free slots, in order, at most maxBatchSize per call', async () => {
    const { calls, send } = controlledSend<number>();
    const call = pipelinedBatcher({ send, maxInFlight: 2, maxBatchSize: 3 });
    const results = Array.from({ length: 8 }, (_, index) => call(index));
    await settle();
    // 8 waiting, 2 free slots: two full batches go, the rest waits for a slot.
    expect(calls.map((entry) => entry.items)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    calls[0]?.answer();
    await settle();
    // One slot free, two waiting (more than the free slots): they leave together.
    expect(calls.map((entry) => entry.items)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7],
    ]);
    for (const entry of calls.slice(1)) entry.answer();
    await expect(Promise.all(results)).resolves.toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((index) => `r:${index}`));
  });

  it("coalesce 'always': what waits at a flush leaves in batches even with a free slot for each", async () => {
    const { calls, send } = controlledSend<number>();
    const call = pipelinedBatcher({ send, maxInFlight: 4, maxBatchSize: 3, coalesce: 'always' });
    const lone = call(0);
    await settle();
    expect(calls.map((entry) => entry.items)).toEqual([[0]]);
    const results = [1, 2, 3, 4].map(call);
    await settle();
    expect(calls.map((entry) => entry.items)).toEqual([[0], [1, 2, 3], [4]]);
    for (const entry of calls) entry.answer();
    await expect(Promise.all([lone, ...results])).resolves.toEqual([0, 1, 2, 3, 4].map((index) => `r:${index}`));
    expect(() => pipelinedBatcher({ send, coalesce: 'sometimes' as 'always' })).toThrow(InvalidOptionsError);
  });

  it('fails only the caller whose result is an Error, and the whole batch when the call fails', async () => {
    const { calls, send } = controlledSend<string>();
    const call = pipelinedBatcher({ send, maxInFlight: 1 });
    const first = call('a');
    await settle();
    const batch = ['b', 'bad-c', 'd'].map(call);
    calls[0]?.answer();
    await first;
    await settle();
    expect(calls[1]?.items).toEqual(['b', 'bad-c', 'd']);
    calls[1]?.answer();
    const outcomes = await Promise.allSettled(batch);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toEqual(new Error('bad bad-c'));

    const failing = [call('e'), call('f')];
    await settle();
    calls[2]?.fail(new Error('connection lost'));
    for (const outcome of await Promise.allSettled(failing)) {
      expect(outcome).toEqual({ status: 'rejected', reason: new Error('connection lost') });
    }
  });

  it('turns a send that throws into rejected callers and keeps working', async () => {
    let broken = true;
    const call = pipelinedBatcher<string, string>({
      send: async (items) => {
        if (broken) throw new Error('not connected');
        return items.map((item) => `r:${item}`);
      },
    });
    const syncThrow = pipelinedBatcher<string, string>({
      send: () => {
        throw new Error('sync');
      },
    });
    await expect(call('a')).rejects.toThrow('not connected');
    await expect(syncThrow('a')).rejects.toThrow('sync');
    broken = false;
    await expect(call('b')).resolves.toBe('r:b');
  });

  it('rejects bad options, all problems at once', () => {
    expect(() => pipelinedBatcher({ send: async () => [], maxBatchSize: 0, maxInFlight: 1.5 })).toThrow(
      InvalidOptionsError,
    );
    try {
      pipelinedBatcher({ send: async () => [], maxBatchSize: 0, maxInFlight: 1.5 });
    } catch (error) {
      expect((error as InvalidOptionsError).problems).toEqual([
        'maxBatchSize must be a positive integer',
        'maxInFlight must be a positive integer',
      ]);
    }
  });

  it('property: every item is sent once, in arrival order, answered with its own result, within both bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        // Each step: items arriving in one tick, then which of the calls out (by position) get answered.
        fc.array(fc.record({ arrivals: fc.nat({ max: 12 }), answers: fc.array(fc.nat(), { maxLength: 4 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        async (maxBatchSize, maxInFlight, steps) => {
          const { calls, send } = controlledSend<number>();
          const answered = new Set<number>();
          const outstanding = () => calls.filter((_, index) => !answered.has(index));
          let mostInFlight = 0;
          const call = pipelinedBatcher<number, string | Error>({
            send: (items) => {
              const reply = send(items);
              mostInFlight = Math.max(mostInFlight, outstanding().length);
              return reply;
            },
            maxBatchSize,
            maxInFlight,
          });
          const pending: Promise<string | Error>[] = [];
          let next = 0;
          for (const step of steps) {
            for (let index = 0; index < step.arrivals; index++) pending.push(call(next++));
            await settle();
            for (const pick of step.answers) {
              const open = calls.map((_, index) => index).filter((index) => !answered.has(index));
              if (open.length === 0) break;
              const chosen = open[pick % open.length] as number;
              answered.add(chosen);
              calls[chosen]?.answer();
            }
            await settle();
          }
          // Drain: answer whatever is out until every caller has its result.
          while (outstanding().length > 0) {
            for (const [index, entry] of calls.entries()) {
              if (!answered.has(index)) {
                answered.add(index);
                entry.answer();
              }
            }
            await settle();
          }
          const results = await Promise.all(pending);
          expect(results).toEqual(pending.map((_, index) => `r:${index}`));
          expect(calls.flatMap((entry) => entry.items)).toEqual(pending.map((_, index) => index));
          expect(Math.max(0, ...calls.map((entry) => entry.items.length))).toBeLessThanOrEqual(maxBatchSize);
          expect(mostInFlight).toBeLessThanOrEqual(maxInFlight);
        },
      ),
      { numRuns: 200 },
    );
  });
});
