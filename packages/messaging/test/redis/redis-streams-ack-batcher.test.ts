import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { streamAckBatcher } from '../../src/redis/redis-streams-ack-batcher.js';

describe('streamAckBatcher', () => {
  it('sends a lone ack at once and acks arriving meanwhile together in the next call', async () => {
    const calls: (readonly string[])[] = [];
    let release: () => void = () => {};
    const ack = streamAckBatcher(async (ids) => {
      calls.push(ids);
      if (calls.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = ack('1');
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [ack('2'), ack('3')];
    release();
    await Promise.all([first, ...rest]);
    expect(calls).toEqual([['1'], ['2', '3']]);
  });

  it('rejects every ack of a failed call with its error, and goes on with the next', async () => {
    const failure = new Error('down');
    let fail = true;
    const ack = streamAckBatcher(async () => {
      if (fail) throw failure;
    });
    await expect(Promise.all([ack('a'), ack('b')])).rejects.toBe(failure);
    fail = false;
    await expect(ack('c')).resolves.toBeUndefined();
  });

  it('property: every id is sent exactly once, in call order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 40 }), async (pauses) => {
        const sent: string[] = [];
        const ack = streamAckBatcher(async (ids) => {
          sent.push(...ids);
          await Promise.resolve();
        });
        const acks: Promise<void>[] = [];
        for (const [index, pause] of pauses.entries()) {
          acks.push(ack(String(index)));
          for (let tick = 0; tick < pause; tick += 1) await Promise.resolve();
        }
        await Promise.all(acks);
        expect(sent).toEqual(pauses.map((_, index) => String(index)));
      }),
    );
  });
});
