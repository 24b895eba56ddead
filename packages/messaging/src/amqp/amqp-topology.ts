import type { Channel } from 'amqplib';
import type { AmqpSettings } from './amqp-transport-options.js';

/** The names of what the transport declares on the broker, and how it declares them. */
export interface AmqpTopology {
  /** Where delay queues of publishes dead-letter; every group queue is bound to it too. */
  readonly delayedExchange: string;
  /** The delayed exchange's alternate exchange: what no group receives goes to a held queue. */
  readonly unroutedExchange: string;
  /** A group's queue. */
  queueOf(topic: string, group: string): string;
  /** Where the broker keeps delayed messages of `topic` that no group received. */
  heldQueueOf(topic: string): string;
  /** The delay queue of a publish to `topic` delayed by `bucketMs`. */
  publishDelayQueueOf(topic: string, bucketMs: number): string;
  /** Groups subscribed to or declared here, for snapshot(). */
  readonly knownGroups: ReadonlyMap<string, { topic: string; group: string }>;
  /**
   * Declares the exchange of delayed publishes, with its alternate exchange (declaring the held
   * queue of a topic and binding it there is left to the delayed publish).
   */
  declareDelayedExchanges(channel: Channel): Promise<void>;
  /** Declares the exchanges, the group's queue and its bindings (to both the exchange and the delayed one). */
  declareGroup(channel: Channel, topic: string, group: string): Promise<void>;
  /** A delay queue that dead-letters into `target` after `bucketMs`, declared on every use to keep it alive. */
  assertDelayQueue(
    channel: Channel,
    name: string,
    bucketMs: number,
    target: { exchange: string; routingKey: string },
  ): Promise<unknown>;
}

export function amqpTopology(settings: AmqpSettings): AmqpTopology {
  const { exchange, queuePrefix, queueArguments } = settings;
  const delayedExchange = `${exchange}.delayed`;
  const unroutedExchange = `${exchange}.unrouted`;
  const knownGroups = new Map<string, { topic: string; group: string }>();
  const queueOf = (topic: string, group: string) => `${queuePrefix}${topic}:${group}`;

  const declareDelayedExchanges = async (channel: Channel) => {
    await channel.assertExchange(unroutedExchange, 'direct', { durable: true });
    await channel.assertExchange(delayedExchange, 'topic', {
      durable: true,
      arguments: { 'alternate-exchange': unroutedExchange },
    });
  };

  return {
    delayedExchange,
    unroutedExchange,
    queueOf,
    heldQueueOf: (topic) => `${unroutedExchange}:${topic}`,
    // Not `:delay:` as before: those queues dead-letter into the main exchange and cannot be re-declared.
    publishDelayQueueOf: (topic, bucketMs) => `${queuePrefix}${topic}:delayed:${bucketMs}`,
    knownGroups,
    declareDelayedExchanges,
    async declareGroup(channel, topic, group) {
      await channel.assertExchange(exchange, 'topic', { durable: true });
      await declareDelayedExchanges(channel);
      await channel.assertQueue(queueOf(topic, group), { durable: true, arguments: queueArguments });
      await channel.bindQueue(queueOf(topic, group), exchange, topic);
      await channel.bindQueue(queueOf(topic, group), delayedExchange, topic);
      knownGroups.set(`${topic}\u0000${group}`, { topic, group });
    },
    assertDelayQueue: (channel, name, bucketMs, target) =>
      channel.assertQueue(name, {
        durable: true,
        arguments: {
          'x-message-ttl': bucketMs,
          'x-dead-letter-exchange': target.exchange,
          'x-dead-letter-routing-key': target.routingKey,
          // Deleted once unused for a minute past its TTL (a declare counts as use).
          'x-expires': bucketMs + 60_000,
        },
      }),
  };
}
