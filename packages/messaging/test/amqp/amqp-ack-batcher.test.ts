import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpAckBatcher } from '../../src/amqp/amqp-ack-batcher.js';
import { eventually } from './amqp-test-support.js';

const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

/** A queue holding `count` messages ('0', '1', …) and a consumer channel that received them all. */
async function consumed(connection: ChannelModel, count: number) {
  const queue = `bulwark-ack-batcher-${randomUUID()}`;
  const setup = await connection.createChannel();
  await setup.assertQueue(queue, { durable: false, arguments: { 'x-expires': 60_000 } });
  for (let index = 0; index < count; index++) setup.sendToQueue(queue, Buffer.from(String(index)));
  const channel = await connection.createChannel();
  await channel.prefetch(count);
  const acks: { tag: number; multiple: boolean }[] = [];
  const ack = channel.ack.bind(channel);
  channel.ack = (message, multiple) => {
    acks.push({ tag: message.fields.deliveryTag, multiple: multiple === true });
    ack(message, multiple);
  };
  let live = true;
  const batcher = new AmqpAckBatcher(channel, () => live);
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => {
    if (!message) return;
    batcher.received(message.fields.deliveryTag);
    received.push(message);
  });
  await eventually(() => received.length === count, 5_000, `${count} deliveries`);
  return {
    queue,
    channel,
    batcher,
    received,
    acks,
    /** Makes the channel count as replaced: acks queued from now on are not written. */
    replace: () => {
      live = false;
    },
    /** Closes the consumer channel (returning what it did not ack) and reads what the queue still holds. */
    async remaining(): Promise<string[]> {
      await channel.close();
      const left: string[] = [];
      for (let message = await setup.get(queue); message; message = await setup.get(queue)) {
        left.push(message.content.toString());
        setup.ack(message);
      }
      await setup.deleteQueue(queue);
      await setup.close();
      return left.sort();
    },
  };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('AmqpAckBatcher (acks of one channel written together, on RabbitMQ)', () => {
  let connection: ChannelModel;
  beforeAll(async () => {
    connection = await amqp.connect(amqpUrl);
  });
  afterAll(async () => {
    await connection.close();
  });

  it('writes the acks of one burst as one multiple ack, resolved once written, and the broker takes them all', async () => {
    const { batcher, received, acks, remaining } = await consumed(connection, 5);
    const written = received.map((message) => batcher.ack(message));
    expect(acks).toEqual([]);
    await Promise.all(written);
    expect(acks).toEqual([{ tag: received[4]?.fields.deliveryTag, multiple: true }]);
    expect(await remaining()).toEqual([]);
  });

  it('never covers a delivery still outstanding: the acks above it go one by one and it stays with the broker', async () => {
    const { batcher, received, acks, remaining } = await consumed(connection, 4);
    const [first, second, third, fourth] = received as [ConsumeMessage, ConsumeMessage, ConsumeMessage, ConsumeMessage];
    await Promise.all([batcher.ack(first), batcher.ack(third), batcher.ack(fourth)]);
    expect(acks).toEqual([
      { tag: first.fields.deliveryTag, multiple: false },
      { tag: third.fields.deliveryTag, multiple: false },
      { tag: fourth.fields.deliveryTag, multiple: false },
    ]);
    expect(second.content.toString()).toBe('1');
    expect(await remaining()).toEqual(['1']);
  });

  it('lets a nack sent meanwhile go first: a multiple ack after it does not swallow it', async () => {
    const { channel, batcher, received, acks, remaining } = await consumed(connection, 3);
    const [first, second, third] = received as [ConsumeMessage, ConsumeMessage, ConsumeMessage];
    const firstAck = batcher.ack(first);
    // Requeued: the broker hands it out again (this channel's prefetch leaves room, so it comes back here).
    channel.nack(second, false, true);
    batcher.settledOtherwise(second.fields.deliveryTag);
    await Promise.all([firstAck, batcher.ack(third)]);
    expect(acks).toEqual([{ tag: third.fields.deliveryTag, multiple: true }]);
    await eventually(() => received.length === 4, 5_000, 'the nacked message again');
    expect(received[3]?.content.toString()).toBe('1');
    expect(received[3]?.fields.redelivered).toBe(true);
    expect(await remaining()).toEqual(['1']);
  });

  it('flush writes the queued acks at once; acks of a replaced channel are not written but still resolve', async () => {
    const { batcher, received, acks, replace, remaining } = await consumed(connection, 2);
    const [first, second] = received as [ConsumeMessage, ConsumeMessage];
    let firstWritten = false;
    void batcher.ack(first).then(() => {
      firstWritten = true;
    });
    batcher.flush();
    expect(acks).toEqual([{ tag: first.fields.deliveryTag, multiple: false }]);
    await tick();
    expect(firstWritten).toBe(true);
    replace();
    await batcher.ack(second);
    expect(acks).toHaveLength(1);
    expect(await remaining()).toEqual(['1']);
  });
});
