import { InvalidOptionsError } from '@bulwark/resilience';
import type { JsonEnvelope } from '../envelope/json-envelope.js';
import { jsonSerializer } from '../envelope/serializer.js';
import { assertKeys, assertPublishable, assertPublishableJson } from '../envelope/storable-values.js';
import { tracePublish } from '../telemetry/message-spans.js';
import type { BrokerTransport } from '../transport/broker-transport.js';
import type { PublishOptions, Subscription, Transport, TransportCapabilities } from '../transport/transport.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import { amqpConnection } from './amqp-connection.js';
import { delayBucketMs } from './amqp-delay-bucket.js';
import { releaseHeldMessages } from './amqp-held-messages.js';
import { amqpPublisher, type OutgoingMessage } from './amqp-publisher.js';
import { assertShortStrings } from './amqp-short-string.js';
import { startAmqpSubscription } from './amqp-subscription.js';
import { amqpTopology } from './amqp-topology.js';
import {
  type AmqpConnectionSource,
  type AmqpTransportOptions,
  resolveAmqpTransportOptions,
} from './amqp-transport-options.js';

/** Depth of one consumer group's queue, from {@link AmqpTransport.snapshot}. */
export interface AmqpGroupSnapshot {
  readonly topic: string;
  readonly group: string;
  /** The group's queue. */
  readonly queue: string;
  /** Messages ready in the queue (the broker does not report unacked ones over AMQP). */
  readonly ready: number;
  /** Consumers on the queue, from every process. */
  readonly consumers: number;
}

/**
 * The RabbitMQ {@link BrokerTransport}. `declareGroup` declares the group's queue, the exchange
 * and the binding; `snapshot` covers the groups this transport subscribed to or declared;
 * `health()` is `degraded` from a lost connection, a failed reconnect or an unconfirmed publish
 * until a connection opens or a publish is confirmed.
 */
export interface AmqpTransport extends BrokerTransport<AmqpGroupSnapshot> {}

/** The AMQP transport's capabilities. */
export const amqpCapabilities: TransportCapabilities = Object.freeze({
  // Durable exchange and queues, persistent messages, publisher confirms.
  persistent: true,
  // One queue per (topic, group) bound to the topic: groups fan out, members of a group compete.
  consumerGroups: true,
  // A queue is FIFO; one subscriber with prefetch 1 sees publish order (redeliveries aside).
  ordering: 'per-topic',
  // Delay queues with a TTL dead-letter back to the group queue (or the exchange, for publishes).
  delayedDelivery: true,
  // RabbitMQ takes a delivery back only when its channel closes (or after its consumer_timeout,
  // 30 minutes by default, by closing the channel): no per-delivery visibility timeout.
  visibilityTimeout: false,
  // Nacks republish with a carried count; quorum queues count broker redeliveries.
  deliveryCount: true,
  // Publishes are `mandatory`: the broker returns a message no queue is bound for (basic.return,
  // before its confirm), and `publish` rejects with UnroutableMessageError instead of resolving.
  // A delayed publish is routed only when its delay ends, where nobody can be told: one that no
  // group receives then is held by the broker (alternate exchange) for the topic's next group.
  unroutable: 'rejected',
});

/**
 * A {@link Transport} on RabbitMQ through `amqplib` (`@bulwark/messaging/amqp`).
 *
 * - Topology: a durable topic exchange (`exchange`, routing key = topic); one durable queue per
 *   (topic, group) bound to it, so every group gets every message and the subscribers of a group
 *   compete for its queue. Declared by `subscribe`: a group exists from its first subscription.
 * - Publishing: persistent, `mandatory` messages on a confirm channel; `publish` resolves once the
 *   broker confirmed every message (written to disk for durable queues). A topic no group is
 *   bound to makes the broker return the message, and `publish` rejects with
 *   {@link @bulwark/messaging!UnroutableMessageError} (`capabilities.unroutable: 'rejected'`): RabbitMQ drops what
 *   no queue receives, so nothing is reported as published that nobody could receive. Declare
 *   groups at deploy time (`declareGroup`) where producers start before consumers; an outbox
 *   relay keeps the rows of a refused topic and tries again, and `consume()` declares its
 *   dead-letter group at start.
 * - Delayed publishes wait in a delay queue whose TTL dead-letters them into `<exchange>.delayed`,
 *   which every group queue is bound to as well. A message no group receives when its delay ends
 *   cannot be refused any more: the broker routes it to that exchange's alternate exchange,
 *   `<exchange>.unrouted`, into a durable queue for its topic, and the first `subscribe` or
 *   `declareGroup` of the topic releases it (with confirms) to the groups that exist then, as a
 *   transport with `unroutable: 'held'` would. The main exchange keeps no arguments, so an
 *   exchange declared by an earlier version is used as it is.
 * - Consuming: one channel per subscription, manual acks, `prefetch` as `basic.qos`. A delivery
 *   not acked when its channel closes (the process died, the connection dropped, the
 *   subscription closed past its deadline) is redelivered by the broker.
 * - `nack({ delayMs })` republishes the message (with its delivery count) to the group's queue,
 *   or to a delay queue whose TTL dead-letters it back to that queue, then acks the original.
 * - Reconnection: give a connection factory and the transport reconnects with backoff after the
 *   connection drops or the broker restarts, re-declares its topology and resumes every
 *   subscription. It owns (and closes) connections it opened that way; a connection you pass
 *   yourself is never closed by the transport.
 * - Latency: amqplib leaves Nagle's algorithm on unless `amqp.connect(url, { noDelay: true })`,
 *   which adds tens of milliseconds to a lone message; pass it.
 *
 * @example
 * ```ts
 * import amqp from 'amqplib';
 * import { amqpTransport } from '@bulwark/messaging/amqp';
 *
 * const transport = amqpTransport(() => amqp.connect(process.env.AMQP_URL, { noDelay: true }));
 * await transport.subscribe('orders', 'billing', async ({ message }) => bill(message.payload));
 * await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload })]);
 * ```
 */
export function amqpTransport(source: AmqpConnectionSource, options: AmqpTransportOptions = {}): AmqpTransport {
  const settings = resolveAmqpTransportOptions(options);
  const { exchange, clock } = settings;
  const connection = amqpConnection(source, settings);
  const publisher = amqpPublisher(connection, settings);
  const topology = amqpTopology(settings);
  const releaseHeld = (topic: string, signal?: AbortSignal) =>
    releaseHeldMessages({ connection, publisher, topology }, topic, signal);
  const subscriptions = new Set<Subscription>();
  const subscriptionParts = {
    settings,
    connection,
    publisher,
    topology,
    releaseHeld,
    onClosed: (subscription: Subscription) => subscriptions.delete(subscription),
  };

  /**
   * A publish held back `delayMs` in a delay queue, whose TTL dead-letters it to the topic's groups.
   * `prepare` makes the messages for their target (an envelope's or a ready-made JSON's).
   */
  const publishDelayed = async <Message>(
    topic: string,
    messages: readonly Message[],
    prepare: (message: Message, exchange: string, routingKey: string) => OutgoingMessage,
    delayMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> => {
    const delayQueue = topology.publishDelayQueueOf(topic, delayMs);
    const held = topology.heldQueueOf(topic);
    assertShortStrings({ topic: delayQueue, 'topic and exchange': held });
    const prepared = messages.map((message) => prepare(message, '', delayQueue));
    await publisher.publishReliably(prepared, signal, async (channel) => {
      // Before the message can leave its delay queue, what no group takes has a queue to wait in.
      await topology.declareDelayedExchanges(channel);
      await channel.assertQueue(held, { durable: true });
      await channel.bindQueue(held, topology.unroutedExchange, topic);
      await topology.assertDelayQueue(channel, delayQueue, delayMs, {
        exchange: topology.delayedExchange,
        routingKey: topic,
      });
    });
  };

  /** Sends what `prepare` makes of `messages` to the topic's exchange, or through a delay queue. */
  const send = <Message>(
    topic: string,
    messages: readonly Message[],
    prepare: (message: Message, exchange: string, routingKey: string) => OutgoingMessage,
    publishOptions: PublishOptions | undefined,
  ): Promise<void> => {
    const signal = publishOptions?.signal;
    const delayMs = delayBucketMs(Math.max(0, Math.ceil(publishOptions?.delayMs ?? 0)));
    if (delayMs > 0) return publishDelayed(topic, messages, prepare, delayMs, signal);
    const prepared: OutgoingMessage[] = [];
    for (const message of messages) prepared.push(prepare(message, exchange, topic));
    return publisher.publishReliably(prepared, signal);
  };

  const transport: AmqpTransport = {
    name: 'amqp',
    capabilities: amqpCapabilities,
    health() {
      return connection.health.health;
    },

    async publish(topic, messages, publishOptions) {
      publishOptions?.signal?.throwIfAborted();
      if (connection.closed) throw new TransportClosedError('amqp');
      assertPublishable(topic, messages);
      if (messages.length === 0) return;
      await send(topic, messages, publisher.outgoing, publishOptions);
    },

    ...(settings.serializer === jsonSerializer && {
      async publishJson(topic: string, messages: readonly JsonEnvelope[], publishOptions?: PublishOptions) {
        publishOptions?.signal?.throwIfAborted();
        if (connection.closed) throw new TransportClosedError('amqp');
        assertPublishableJson(topic, messages);
        if (messages.length === 0) return;
        await send(topic, messages, publisher.outgoingJson, publishOptions);
      },
    }),

    async subscribe(topic, group, handler, subscribeOptions) {
      subscribeOptions?.signal?.throwIfAborted();
      if (connection.closed) throw new TransportClosedError('amqp');
      assertKeys({ topic, group });
      assertShortStrings({ 'topic and group': topology.queueOf(topic, group) });
      const prefetch = subscribeOptions?.prefetch ?? settings.prefetch;
      if (!Number.isInteger(prefetch) || prefetch <= 0)
        throw new InvalidOptionsError('subscribe', [`prefetch must be a positive integer, got ${prefetch}`]);
      const subscription = await startAmqpSubscription(
        subscriptionParts,
        topic,
        group,
        handler,
        prefetch,
        subscribeOptions?.signal,
      );
      subscriptions.add(subscription);
      subscribeOptions?.signal?.addEventListener('abort', () => void subscription.close({ deadlineMs: 0 }), {
        once: true,
      });
      return subscription;
    },

    async declareGroup(topic, group, declareOptions) {
      declareOptions?.signal?.throwIfAborted();
      if (connection.closed) throw new TransportClosedError('amqp');
      await connection.withChannel((channel) => topology.declareGroup(channel, topic, group), declareOptions?.signal);
      await releaseHeld(topic, declareOptions?.signal);
    },

    async snapshot(snapshotOptions) {
      const snapshots: AmqpGroupSnapshot[] = [];
      for (const { topic, group } of topology.knownGroups.values()) {
        const queue = topology.queueOf(topic, group);
        const checked = await connection
          .withChannel((channel) => channel.checkQueue(queue), snapshotOptions?.signal)
          .catch(
            () => undefined, // deleted meanwhile (or expired): nothing to report
          );
        if (checked)
          snapshots.push({ topic, group, queue, ready: checked.messageCount, consumers: checked.consumerCount });
      }
      return snapshots;
    },

    async close(closeOptions) {
      connection.markClosed();
      await Promise.all([...subscriptions].map((subscription) => subscription.close(closeOptions)));
      await publisher.close();
      await connection.close();
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };

  return tracePublish(transport, clock);
}
