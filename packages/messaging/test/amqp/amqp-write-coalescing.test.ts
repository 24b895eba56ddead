import { Writable } from 'node:stream';
import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { coalesceFrameWrites } from '../../src/amqp/amqp-write-coalescing.js';

/** A socket stand-in that records each system call it would make: one per `_write`/`_writev`. */
function recordingSocket() {
  const calls: string[][] = [];
  const socket = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      calls.push([chunk.toString()]);
      callback();
    },
    writev(chunks, callback) {
      calls.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      callback();
    },
  });
  return { socket, calls, model: { connection: { stream: socket } } as unknown as ChannelModel };
}

/** Resolves once the `process.nextTick` callbacks queued so far have run (before the next turn of the event loop). */
const afterPass = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('coalesceFrameWrites (AMQP frames of one write pass in one writev)', () => {
  it('sends the frames written in one pass together, in order, before the next turn, and a later pass on its own', async () => {
    const { socket, calls, model } = recordingSocket();
    coalesceFrameWrites(model);
    socket.write(Buffer.from('publish-1'));
    socket.write(Buffer.from('publish-2'));
    socket.write(Buffer.from('ack-1'));
    expect(calls).toEqual([]);
    await afterPass();
    expect(calls).toEqual([['publish-1', 'publish-2', 'ack-1']]);
    socket.write(Buffer.from('publish-3'));
    await afterPass();
    expect(calls).toEqual([['publish-1', 'publish-2', 'ack-1'], ['publish-3']]);
  });

  it('leaves a connection without a corkable socket as it is', () => {
    const model = { connection: { stream: { write: () => true } } } as unknown as ChannelModel;
    expect(() => coalesceFrameWrites(model)).not.toThrow();
    expect(() => coalesceFrameWrites({} as ChannelModel)).not.toThrow();
  });
});
