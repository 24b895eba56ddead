// What the outbox.to-brokers bench (outbox-brokers.bench.ts) and its fleet processes
// (outbox-brokers-worker.ts) publish, and how: the envelopes, the transports the relays publish
// through, and the floors written by hand.
import { randomUUID } from 'node:crypto';
import {
  createEnvelope,
  type Envelope,
  type JsonEnvelope,
  type PublishOptions,
  type Transport,
} from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import amqp from 'amqplib';
import { Redis } from 'ioredis';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
/** The floors publish this many messages, then wait for the broker's answer. */
const floorBatch = 500;

/** `count` envelopes like the rows of the bench's outbox (~250 bytes of JSON, 100 keys, one topic). */
export const benchEnvelopes = (count: number): Envelope[] =>
  Array.from({ length: count }, (_, index) =>
    createEnvelope({
      topic: 'orders',
      type: 'order.placed',
      key: `order-${index % 100}`,
      payload: { orderId: index, total: 4200, currency: 'EUR', lines: [{ sku: 'SKU-1', quantity: 2 }] },
      headers: { correlationId: randomUUID() },
    }),
  );

/** A transport of the bench on its own broker connection. */
export interface BenchTransport {
  readonly transport: Transport;
  dispose(): Promise<void>;
}

/**
 * What a relay of the bench publishes through: `transport`, calling `accepted` with the count of
 * every publish it accepted. It passes `publishJson` on where the transport has it, as a wrapper
 * must for the relay to hand it the stored JSON.
 */
export function countingTransport(
  transport: Transport,
  accepted: (count: number) => void,
): Pick<Transport, 'publish' | 'publishJson'> {
  const publishJson = transport.publishJson?.bind(transport);
  return {
    async publish(topic, messages, options) {
      await transport.publish(topic, messages, options);
      accepted(messages.length);
    },
    ...(publishJson && {
      async publishJson(topic: string, messages: readonly JsonEnvelope[], options?: PublishOptions) {
        await publishJson(topic, messages, options);
        accepted(messages.length);
      },
    }),
  };
}

/** The Redis Streams transport under `keyPrefix`, on its own connection. */
export function redisBenchTransport(keyPrefix: string): BenchTransport {
  const redis = new Redis(redisUrl);
  const transport = redisStreamsTransport(redis, { keyPrefix });
  return {
    transport,
    async dispose() {
      await transport.close({ deadlineMs: 0 });
      redis.disconnect();
    },
  };
}

/** The AMQP transport to `exchange` (quorum queues), on its own connection. */
export function amqpBenchTransport(exchange: string): BenchTransport {
  const transport = amqpTransport(() => amqp.connect(amqpUrl, { noDelay: true }), {
    exchange,
    queuePrefix: `${exchange}:`,
    queueType: 'quorum',
    queueArguments: { 'x-expires': 600_000 }, // the bench queues go away on their own (unused for 10 min)
    // Declaring a quorum queue on the shared, loaded broker has taken more than the default 30 s.
    operationTimeoutMs: 120_000,
  });
  return {
    transport,
    dispose: () => transport.close({ deadlineMs: 0 }),
  };
}

/** Where a floor publishes: one Redis stream, or one queue through a confirm channel. */
export type FloorDestination =
  | { readonly redis: Redis; readonly stream: string }
  | { readonly channel: amqp.ConfirmChannel; readonly queue: string };

/**
 * Publishes `envelopes` by hand, `floorBatch` at a time, each batch confirmed by the broker before
 * the next: ioredis pipelined XADD to one stream (`redis`), or an amqplib confirm channel and
 * waitForConfirms to one quorum queue (`channel`). Calls `accepted` after every batch.
 */
export async function publishFloor(
  to: FloorDestination,
  envelopes: readonly Envelope[],
  accepted: (count: number) => void = () => {},
): Promise<void> {
  for (let offset = 0; offset < envelopes.length; offset += floorBatch) {
    const batch = envelopes.slice(offset, offset + floorBatch);
    if ('redis' in to) {
      const pipeline = to.redis.pipeline();
      for (const message of batch) pipeline.xadd(to.stream, '*', 'message', JSON.stringify(message));
      await pipeline.exec();
    } else {
      for (const message of batch)
        to.channel.sendToQueue(to.queue, Buffer.from(JSON.stringify(message)), {
          persistent: true,
          messageId: message.id,
          contentType: 'application/json',
        });
      await to.channel.waitForConfirms();
    }
    accepted(batch.length);
  }
}
