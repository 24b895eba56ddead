import {
  abortable,
  type Clock,
  delay,
  exponential,
  InvalidOptionsError,
  OptionsValidator,
  systemClock,
  within,
} from '@bulwark/resilience';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Envelope } from '../envelope/envelope.js';
import { jsonSerializer, type Serializer } from '../envelope/serializer.js';
import { assertKeys, assertPublishable } from '../envelope/storable-values.js';
import { MessagingError } from '../errors/messaging-error.js';
import { emitWarningFor } from '../errors/warning-reporter.js';
import { tracePublish } from '../telemetry/message-spans.js';
import { type ConnectionHealth, ConnectionHealthTracker } from '../transport/connection-health.js';
import { settledWithin } from '../transport/in-flight.js';
import type {
  CloseSubscriptionOptions,
  Delivery,
  DeliveryHandler,
  Subscription,
  Transport,
  TransportCapabilities,
} from '../transport/transport.js';
import { TransportClosedError, UnroutableMessageError } from '../transport/transport-errors.js';
import { assertShortStrings, fitsShortString } from './amqp-short-string.js';

/**
 * Where the transport gets its connection: an `amqplib` connection you opened (`await
 * amqp.connect(url)`), or a function that opens one. Only a function lets the transport
 * reconnect after the broker restarts or the connection drops: it calls it again, and closes the
 * connections it opened that way on `close()`. A connection you pass is never closed by the
 * transport; once it is gone, publishing fails and subscriptions wait for a connection that will
 * not come.
 */
export type AmqpConnectionSource = ChannelModel | (() => Promise<ChannelModel>);

/** Options of {@link amqpTransport}. */
export interface AmqpTransportOptions {
  /**
   * The durable topic exchange messages are published to, with the topic as routing key.
   * @defaultValue `'bulwark'`
   */
  exchange?: string;
  /**
   * Prefix of every queue the transport declares. A group's queue is `<prefix><topic>:<group>`;
   * its delay queues `<prefix><topic>:<group>:delay:<ms>`.
   * @defaultValue `'bulwark:'`
   */
  queuePrefix?: string;
  /**
   * Type of the group queues. Quorum queues are replicated and count every delivery
   * (`x-delivery-count`); classic queues only flag a redelivery, so a message redelivered by the
   * broker several times (its consumers died each time) is counted once per copy.
   * @defaultValue `'quorum'`
   */
  queueType?: 'quorum' | 'classic';
  /** Extra `x-arguments` of the group queues (e.g. `x-max-length`, `x-dead-letter-exchange`). */
  queueArguments?: Record<string, unknown>;
  /** Deliveries handed out at once per subscription (`basic.qos`) unless `subscribe` says otherwise. @defaultValue `10` */
  prefetch?: number;
  /**
   * Attempts to publish a batch when the channel or connection fails before the broker
   * confirmed it (only the unconfirmed messages are sent again, on the next connection).
   * A message the broker refuses (`basic.nack`) is not retried.
   * @defaultValue `3`
   */
  publishAttempts?: number;
  /** First wait before reconnecting; doubles up to `reconnectMaxMs`. @defaultValue `100` */
  reconnectInitialMs?: number;
  /** @defaultValue `5_000` */
  reconnectMaxMs?: number;
  /**
   * Longest wait for the broker to confirm a batch, to open a channel and declare what a publish,
   * a subscription, `declareGroup` or `snapshot` needs. A broker that accepted the connection but
   * cannot serve a queue (a quorum queue without a leader after a restart), or a network that went
   * silent, otherwise never answers. A publish past it is sent again on a new channel (up to
   * `publishAttempts`); other calls reject with a `MessagingError` of code `BROKER_TIMEOUT`.
   * Pair it with a heartbeat on the connection (`amqp.connect(url, { heartbeat: 5 })`), which is
   * what ends a connection that went silent.
   * @defaultValue `30_000`
   */
  operationTimeoutMs?: number;
  /** @defaultValue `jsonSerializer` */
  serializer?: Serializer;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * Called with errors met in the background (a lost connection, a failed reconnect, a message
   * that cannot be deserialized). The transport keeps going after each one.
   * @defaultValue emits a process warning (`process.emitWarning`, type `BulwarkWarning`, code
   * `BULWARK_<error code>` such as `BULWARK_CONNECTION_FAILED`); pass a function to send them to
   * your logger instead
   */
  onError?: (error: MessagingError) => void;
}

const defaults = {
  exchange: 'bulwark',
  queuePrefix: 'bulwark:',
  queueType: 'quorum',
  prefetch: 10,
  publishAttempts: 3,
  reconnectInitialMs: 100,
  reconnectMaxMs: 5_000,
  closeDeadlineMs: 30_000,
  operationTimeoutMs: 30_000,
} as const;

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

/** The RabbitMQ {@link Transport}, with `declareGroup()` and `snapshot()`. */
export interface AmqpTransport extends Transport {
  /**
   * Declares a group's queue (and the exchange and binding) before anyone subscribes, so it
   * receives what is published meanwhile. Run it at deploy time when producers may start first.
   */
  declareGroup(topic: string, group: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Depths of the groups this transport subscribed to or declared, for dashboards. */
  snapshot(options?: { signal?: AbortSignal }): Promise<AmqpGroupSnapshot[]>;
  /**
   * Whether the broker is reachable, without asking it: `degraded` from a lost connection, a
   * failed reconnect or an unconfirmed publish until a connection opens or a publish is confirmed.
   */
  health(): ConnectionHealth;
}

/** Header carrying how many deliveries came before this copy (nacks republish the message). */
const deliveriesHeader = 'x-bulwark-deliveries';

/**
 * Header tagging each send on the publishing channel, so a `basic.return` (which carries no
 * delivery tag) is matched to exactly the message it returns.
 */
const publishTagHeader = 'x-bulwark-publish-tag';

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
  unroutable: 'rejected',
});

const asError = (code: string, message: string, cause?: unknown) => new MessagingError(code, message, { cause });

/**
 * Rounds a delay up to two significant digits, so jittered delays share a few delay queues.
 *
 * @internal
 */
export function delayBucketMs(delayMs: number): number {
  if (delayMs <= 0) return 0;
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(delayMs)) - 1);
  return Math.ceil(delayMs / magnitude) * magnitude;
}

function validate(options: AmqpTransportOptions): void {
  const validator = new OptionsValidator('amqpTransport');
  const positive = (name: keyof AmqpTransportOptions) => {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value <= 0))
      validator.report(`${name} must be a positive integer, got ${String(value)}`);
  };
  positive('prefetch');
  positive('publishAttempts');
  positive('reconnectInitialMs');
  positive('reconnectMaxMs');
  positive('operationTimeoutMs');
  if (options.queueType !== undefined && options.queueType !== 'quorum' && options.queueType !== 'classic')
    validator.report(`queueType must be 'quorum' or 'classic', got ${String(options.queueType)}`);
  if (options.exchange !== undefined && (typeof options.exchange !== 'string' || options.exchange === ''))
    validator.report('exchange must be a non-empty string (the default exchange cannot fan out)');
  validator.throwIfInvalid();
}

interface OutgoingMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/** A broker `basic.nack`: the broker refused the message, sending it again will not help. */
class BrokerRefusedError extends Error {}

/** The broker returned the message (basic.return, no queue bound for its routing key). */
class BrokerReturnedError extends Error {}

/** The broker did not answer in time; the channel is dropped and the work tried again on a new one. */
class BrokerTimeoutError extends Error {}

/**
 * A {@link Transport} on RabbitMQ through `amqplib` (`@bulwark/messaging/amqp`).
 *
 * - Topology: a durable topic exchange (`exchange`, routing key = topic); one durable queue per
 *   (topic, group) bound to it, so every group gets every message and the subscribers of a group
 *   compete for its queue. Declared by `subscribe`: a group exists from its first subscription.
 * - Publishing: persistent, `mandatory` messages on a confirm channel; `publish` resolves once the
 *   broker confirmed every message (written to disk for durable queues). A topic no group is
 *   bound to makes the broker return the message, and `publish` rejects with
 *   {@link UnroutableMessageError} (`capabilities.unroutable: 'rejected'`): RabbitMQ drops what
 *   no queue receives, so nothing is reported as published that nobody could receive. Declare
 *   groups at deploy time (`declareGroup`) where producers start before consumers; an outbox
 *   relay keeps the rows of a refused topic and tries again, and `consume()` declares its
 *   dead-letter group at start. A delayed publish is routed when its delay ends (from its delay
 *   queue), where the broker cannot return it: publish with a delay only to topics with a group.
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
  validate(options);
  const exchange = options.exchange ?? defaults.exchange;
  const queuePrefix = options.queuePrefix ?? defaults.queuePrefix;
  const queueType = options.queueType ?? defaults.queueType;
  const defaultPrefetch = options.prefetch ?? defaults.prefetch;
  const publishAttempts = options.publishAttempts ?? defaults.publishAttempts;
  const reconnectInitialMs = options.reconnectInitialMs ?? defaults.reconnectInitialMs;
  const reconnectMaxMs = options.reconnectMaxMs ?? defaults.reconnectMaxMs;
  const serializer = options.serializer ?? jsonSerializer;
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? emitWarningFor('amqpTransport');
  const queueArguments: Record<string, unknown> = {
    ...(queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {}),
    ...options.queueArguments,
  };

  const report = (code: string, message: string, cause?: unknown) => {
    try {
      onError(asError(code, message, cause));
    } catch {
      // A throwing error listener must not break the transport.
    }
  };
  const operationTimeoutMs = options.operationTimeoutMs ?? defaults.operationTimeoutMs;
  const reconnectBackoff = exponential({ initialMs: reconnectInitialMs, maxMs: reconnectMaxMs });
  // No jitter: the reconnect delays are the same for every process, so `random` is never read.
  const backoffMs = (failures: number) =>
    reconnectBackoff.delayMs({ attempt: failures + 1, previousDelayMs: 0, random: () => 0 });
  const health = new ConnectionHealthTracker(clock);

  const stopping = new AbortController();
  const ownsConnections = typeof source === 'function';
  const opened = new Set<ChannelModel>();
  let current: ChannelModel | undefined;
  let connecting: Promise<ChannelModel> | undefined;
  let closed = false;

  const watch = (connection: ChannelModel) => {
    connection.on('error', (error: unknown) => {
      health.failed(error);
      report('CONNECTION_FAILED', 'The AMQP connection failed', error);
    });
    connection.once('close', (reason: unknown) => {
      opened.delete(connection);
      if (current === connection) current = undefined;
      // A broker-side close (restart, `rabbitmqctl close_connection`) emits no 'error' in amqplib.
      if (!closed) health.failed(reason ?? new MessagingError('CONNECTION_LOST', 'The AMQP connection closed'));
      if (!closed)
        report('CONNECTION_LOST', 'The AMQP connection closed; reconnecting where a factory was given', reason);
    });
  };
  if (typeof source !== 'function') {
    current = source;
    watch(source);
  }

  /** The live connection, reconnecting (when the source is a factory) until the transport closes. */
  const connection = (): Promise<ChannelModel> => {
    if (current) return Promise.resolve(current);
    if (closed) return Promise.reject(new TransportClosedError('amqp'));
    if (typeof source !== 'function') {
      return Promise.reject(
        new MessagingError(
          'CONNECTION_CLOSED',
          'The amqplib connection given to amqpTransport is closed; give a connection factory to reconnect',
        ),
      );
    }
    connecting ??= (async () => {
      for (let failures = 0; ; failures++) {
        if (closed) throw new TransportClosedError('amqp');
        try {
          const made = await source();
          if (closed) {
            await made.close().catch(() => {});
            throw new TransportClosedError('amqp');
          }
          opened.add(made);
          watch(made);
          current = made;
          health.succeeded();
          return made;
        } catch (error) {
          if (error instanceof TransportClosedError) throw error;
          health.failed(error);
          report('CONNECTION_FAILED', `Connecting to the broker failed (attempt ${failures + 1}); retrying`, error);
          await delay(clock, backoffMs(failures), stopping.signal).catch(() => {});
        }
      }
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  // One confirm channel for publishing (and for the republishing done by nacks).
  let publisher: Promise<ConfirmChannel> | undefined;
  /** Tags of the messages the broker returned on each publishing channel, not yet confirmed. */
  const returnedTags = new WeakMap<ConfirmChannel, Set<string>>();
  let publishSequence = 0;
  const publishChannel = (): Promise<ConfirmChannel> => {
    if (publisher) return publisher;
    const opening = (async () => {
      const made = await (await connection()).createConfirmChannel();
      made.on('error', (error: unknown) => report('CHANNEL_FAILED', 'The publishing channel failed', error));
      const returned = new Set<string>();
      returnedTags.set(made, returned);
      // RabbitMQ sends a message's basic.return before its basic.ack, so the confirm callback
      // below finds the tag here.
      made.on('return', (message: { properties: { headers?: Record<string, unknown> } }) => {
        const tag = message.properties.headers?.[publishTagHeader];
        if (tag !== undefined) returned.add(String(tag));
      });
      made.once('close', () => {
        if (publisher === opening) publisher = undefined;
      });
      await made.assertExchange(exchange, 'topic', { durable: true });
      return made;
    })();
    publisher = opening;
    opening.catch(() => {
      if (publisher === opening) publisher = undefined;
    });
    return opening;
  };

  /** Sends messages on the confirm channel; resolves with those the broker did not confirm. */
  const sendConfirmed = async (
    messages: readonly OutgoingMessage[],
    prepare?: (channel: ConfirmChannel) => Promise<void>,
  ): Promise<{ failed: OutgoingMessage[]; errors: unknown[] }> => {
    const opening = publishChannel();
    /** Drops the publishing channel (the broker stopped answering on it) so the next attempt opens a new one. */
    const abandon = () => {
      if (publisher === opening) publisher = undefined;
      void opening.then((made) => made.close()).catch(() => {});
    };
    let channel: ConfirmChannel;
    try {
      channel = await within(
        clock,
        opening.then(async (made) => {
          await prepare?.(made);
          return made;
        }),
        operationTimeoutMs,
        () => new BrokerTimeoutError(`No publishing channel within ${operationTimeoutMs} ms`),
      );
    } catch (error) {
      if (error instanceof BrokerTimeoutError) abandon();
      throw error;
    }
    const settles: Array<(outcome: unknown) => void> = [];
    const returned = returnedTags.get(channel);
    const outcomes = messages.map(
      (message) =>
        new Promise<unknown>((resolve) => {
          settles.push(resolve);
          publishSequence += 1;
          const tag = String(publishSequence);
          // Mandatory: a message no queue receives comes back instead of being dropped.
          const options: Options.Publish = {
            ...message.options,
            mandatory: true,
            headers: { ...message.options.headers, [publishTagHeader]: tag },
          };
          try {
            const writable = channel.publish(
              message.exchange,
              message.routingKey,
              message.content,
              options,
              (error: unknown) =>
                resolve(
                  error === null || error === undefined
                    ? returned?.delete(tag)
                      ? new BrokerReturnedError(`No queue is bound for routing key ${message.routingKey}`)
                      : undefined
                    : error instanceof Error && error.message === 'message nacked'
                      ? new BrokerRefusedError('The broker refused the message (basic.nack)')
                      : error,
                ),
            );
            void writable; // Backpressure is left to amqplib's buffer: batches here are bounded by the caller.
          } catch (error) {
            resolve(error);
          }
        }),
    );
    // A broker that never confirms (a queue without a leader) must not hold the publish forever: past
    // the deadline the unconfirmed messages count as failed and go again on a new channel (they may
    // then arrive twice: at-least-once, never lost).
    const timer = clock.setTimeout(() => {
      const timedOut = new BrokerTimeoutError(`The broker did not confirm within ${operationTimeoutMs} ms`);
      health.failed(timedOut);
      for (const settle of settles) settle(timedOut);
      abandon();
    }, operationTimeoutMs);
    const results = await Promise.all(outcomes).finally(() => clock.clearTimeout(timer));
    const failed: OutgoingMessage[] = [];
    const errors: unknown[] = [];
    results.forEach((error, index) => {
      if (error === undefined) return;
      failed.push(messages[index] as OutgoingMessage);
      errors.push(error);
    });
    return { failed, errors };
  };

  /** Publishes with confirms, sending unconfirmed messages again after a channel or connection failure. */
  const publishReliably = async (
    messages: readonly OutgoingMessage[],
    signal: AbortSignal | undefined,
    prepare?: (channel: ConfirmChannel) => Promise<void>,
  ) => {
    let remaining = messages;
    let lastError: unknown;
    for (let attempt = 1; attempt <= publishAttempts && remaining.length > 0; attempt++) {
      // Give a dying connection time to report its close, so the next attempt waits for a new one.
      if (attempt > 1) await delay(clock, backoffMs(attempt - 2), signal);
      signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('amqp');
      try {
        const { failed, errors } = await abortable(sendConfirmed(remaining, prepare), signal);
        const refused = errors.find((error) => error instanceof BrokerRefusedError);
        if (refused) throw asError('PUBLISH_REFUSED', `The broker refused ${failed.length} message(s)`, refused);
        // Sending a returned message again cannot help until a group exists: refuse the call.
        const returnedCount = errors.filter((error) => error instanceof BrokerReturnedError).length;
        if (returnedCount > 0) {
          const first = failed[errors.findIndex((error) => error instanceof BrokerReturnedError)] as OutgoingMessage;
          throw new UnroutableMessageError('amqp', first.routingKey, returnedCount, {
            cause: errors.find((error) => error instanceof BrokerReturnedError),
          });
        }
        remaining = failed;
        lastError = errors[0];
        if (failed.length === 0) health.succeeded();
      } catch (error) {
        if (error instanceof MessagingError || signal?.aborted) throw error;
        lastError = error;
      }
    }
    if (remaining.length > 0) {
      throw asError(
        'PUBLISH_FAILED',
        `${remaining.length} message(s) were not confirmed after ${publishAttempts} attempt(s)`,
        lastError,
      );
    }
  };

  const outgoing = (message: Envelope, target: { exchange: string; routingKey: string }, deliveries = 0) => {
    const headers: Record<string, unknown> = {};
    if (deliveries > 0) headers[deliveriesHeader] = deliveries;
    const publishOptions: Options.Publish = { persistent: true, contentType: serializer.contentType, headers };
    // Properties for the broker's tools only (the envelope travels whole in the body): a value past
    // the 255 bytes of an AMQP short string is left out rather than refused.
    if (fitsShortString(message.id)) publishOptions.messageId = message.id;
    if (fitsShortString(message.type)) publishOptions.type = message.type;
    if (fitsShortString(message.headers.correlationId)) publishOptions.correlationId = message.headers.correlationId;
    return { ...target, content: serializer.serialize(message), options: publishOptions };
  };

  /** A delay queue that dead-letters into `target` after `bucketMs`, declared on every use to keep it alive. */
  const assertDelayQueue = (
    channel: Channel,
    name: string,
    bucketMs: number,
    target: { exchange: string; routingKey: string },
  ) =>
    channel.assertQueue(name, {
      durable: true,
      arguments: {
        'x-message-ttl': bucketMs,
        'x-dead-letter-exchange': target.exchange,
        'x-dead-letter-routing-key': target.routingKey,
        // Deleted once unused for a minute past its TTL (a declare counts as use).
        'x-expires': bucketMs + 60_000,
      },
    });

  const subscriptions = new Set<Subscription>();
  /** Groups subscribed to or declared here, for snapshot(). */
  const knownGroups = new Map<string, { topic: string; group: string }>();
  const queueOf = (topic: string, group: string) => `${queuePrefix}${topic}:${group}`;
  /** Declares the exchange, the group's queue and its binding. */
  const declareTopology = async (channel: Channel, topic: string, group: string) => {
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(queueOf(topic, group), { durable: true, arguments: queueArguments });
    await channel.bindQueue(queueOf(topic, group), exchange, topic);
    knownGroups.set(`${topic}\u0000${group}`, { topic, group });
  };
  /** Runs `work` on a short-lived channel (a failed declare or check closes its channel). */
  const withChannel = async <T>(work: (channel: Channel) => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const timedOut = () =>
      asError('BROKER_TIMEOUT', `The broker did not answer within ${operationTimeoutMs} ms (operationTimeoutMs)`);
    const opening = connection().then((made) => made.createChannel());
    let channel: Channel;
    try {
      channel = await abortable(within(clock, opening, operationTimeoutMs, timedOut), signal);
    } catch (error) {
      // A channel that opens after all is closed rather than left on the connection.
      void opening
        .then((late) => {
          late.on('error', () => {}); // held until closed: a channel error here must not go unhandled
          return late.close();
        })
        .catch(() => {});
      throw error;
    }
    channel.on('error', () => {}); // the failure reaches the caller through `work`
    try {
      return await abortable(within(clock, work(channel), operationTimeoutMs, timedOut), signal);
    } finally {
      // Not awaited past the timeout: a silent broker never answers channel.close either.
      await within(clock, channel.close(), operationTimeoutMs, timedOut).catch(() => {});
    }
  };

  const transport: AmqpTransport = {
    name: 'amqp',
    capabilities: amqpCapabilities,
    health() {
      return health.health;
    },

    async publish(topic, messages, publishOptions) {
      const signal = publishOptions?.signal;
      signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('amqp');
      assertPublishable(topic, messages);
      assertShortStrings({ topic });
      if (messages.length === 0) return;
      const delayMs = delayBucketMs(Math.max(0, Math.ceil(publishOptions?.delayMs ?? 0)));
      if (delayMs > 0) assertShortStrings({ topic: `${queuePrefix}${topic}:delay:${delayMs}` });
      if (delayMs === 0) {
        const prepared = messages.map((message) => outgoing(message, { exchange, routingKey: topic }));
        await publishReliably(prepared, signal);
        return;
      }
      const delayQueue = `${queuePrefix}${topic}:delay:${delayMs}`;
      const prepared = messages.map((message) => outgoing(message, { exchange: '', routingKey: delayQueue }));
      await publishReliably(prepared, signal, async (channel) => {
        await assertDelayQueue(channel, delayQueue, delayMs, { exchange, routingKey: topic });
      });
    },

    async subscribe(topic, group, handler, subscribeOptions) {
      subscribeOptions?.signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('amqp');
      assertKeys({ topic, group });
      assertShortStrings({ 'topic and group': queueOf(topic, group) });
      const prefetch = subscribeOptions?.prefetch ?? defaultPrefetch;
      if (!Number.isInteger(prefetch) || prefetch <= 0)
        throw new InvalidOptionsError('subscribe', [`prefetch must be a positive integer, got ${prefetch}`]);
      const subscription = await startSubscription(topic, group, handler, prefetch, subscribeOptions?.signal);
      subscriptions.add(subscription);
      subscribeOptions?.signal?.addEventListener('abort', () => void subscription.close({ deadlineMs: 0 }), {
        once: true,
      });
      return subscription;
    },

    async declareGroup(topic, group, declareOptions) {
      declareOptions?.signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('amqp');
      await withChannel((channel) => declareTopology(channel, topic, group), declareOptions?.signal);
    },

    async snapshot(snapshotOptions) {
      const snapshots: AmqpGroupSnapshot[] = [];
      for (const { topic, group } of knownGroups.values()) {
        const queue = queueOf(topic, group);
        const checked = await withChannel((channel) => channel.checkQueue(queue), snapshotOptions?.signal).catch(
          () => undefined, // deleted meanwhile (or expired): nothing to report
        );
        if (checked)
          snapshots.push({ topic, group, queue, ready: checked.messageCount, consumers: checked.consumerCount });
      }
      return snapshots;
    },

    async close(closeOptions) {
      if (!closed) closed = true;
      await Promise.all([...subscriptions].map((subscription) => subscription.close(closeOptions)));
      stopping.abort();
      const channel = publisher;
      publisher = undefined;
      await channel?.then((made) => made.close()).catch(() => {});
      if (ownsConnections) {
        await Promise.all([...opened].map((made) => made.close().catch(() => {})));
        opened.clear();
        current = undefined;
      }
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };

  async function startSubscription(
    topic: string,
    group: string,
    handler: DeliveryHandler,
    prefetch: number,
    signal: AbortSignal | undefined,
  ): Promise<Subscription> {
    const queue = queueOf(topic, group);
    const leaving = new AbortController();
    interface InFlight {
      settled: boolean;
      task?: Promise<void>;
    }
    const inFlight = new Set<InFlight>();
    let channel: Channel | undefined;
    let consumerTag: string | undefined;
    let closing: Promise<void> | undefined;

    const onMessage = (from: Channel, raw: ConsumeMessage) => {
      let message: Envelope;
      try {
        message = serializer.deserialize(raw.content);
      } catch (error) {
        report('UNREADABLE_MESSAGE', `A message on ${queue} cannot be deserialized; rejected without requeue`, error);
        // Rejected without requeue: dropped, or dead-lettered if the queue has a dead-letter exchange.
        try {
          from.nack(raw, false, false);
        } catch {
          // Channel gone: the broker redelivers it, and this runs again.
        }
        return;
      }
      const headers = raw.properties.headers ?? {};
      const carried = Number(headers[deliveriesHeader]) || 0;
      const brokerRedeliveries =
        queueType === 'quorum' ? Number(headers['x-delivery-count']) || 0 : raw.fields.redelivered ? 1 : 0;
      const state: InFlight = { settled: false };
      // Settling on a channel that closed meanwhile does nothing: the broker redelivers the message.
      const live = () => channel === from;
      const delivery: Delivery = {
        message,
        deliveryCount: carried + brokerRedeliveries + 1,
        ack: async () => {
          if (state.settled) return;
          state.settled = true;
          if (!live()) return;
          try {
            from.ack(raw);
          } catch {
            // The channel closed this instant: the broker redelivers the message.
          }
        },
        nack: async (nackOptions) => {
          if (state.settled) return;
          state.settled = true;
          if (!live()) return;
          const delayMs = delayBucketMs(Math.max(0, Math.ceil(nackOptions?.delayMs ?? 0)));
          const deliveries = delivery.deliveryCount;
          try {
            if (delayMs === 0) {
              await publishReliably([outgoing(message, { exchange: '', routingKey: queue }, deliveries)], undefined);
            } else {
              const delayQueue = `${queue}:delay:${delayMs}`;
              await publishReliably(
                [outgoing(message, { exchange: '', routingKey: delayQueue }, deliveries)],
                undefined,
                async (confirm) => {
                  await assertDelayQueue(confirm, delayQueue, delayMs, { exchange: '', routingKey: queue });
                },
              );
            }
          } catch (error) {
            // The copy may not exist: requeue the original instead (its count then grows by the broker's rules).
            report('NACK_FAILED', `Republishing a nacked message to ${queue} failed; requeued instead`, error);
            try {
              from.nack(raw, false, true);
            } catch {
              // Channel gone: the broker redelivers it.
            }
            return;
          }
          try {
            from.ack(raw);
          } catch {
            // Channel gone: the original comes back too (at-least-once: a duplicate, never a loss).
          }
        },
      };
      state.task = (async () => {
        try {
          await handler(delivery);
        } catch {
          await delivery.nack();
          return;
        }
        await delivery.ack();
      })().finally(() => inFlight.delete(state));
      inFlight.add(state);
    };

    const timedOut = () =>
      new BrokerTimeoutError(`The broker did not start the consumer on ${queue} within ${operationTimeoutMs} ms`);

    /** Opens a channel, declares the group's topology and starts consuming. */
    const attach = async () => {
      // Waits for a connection as long as it takes (a factory reconnects); what follows is bounded.
      const live = await connection();
      const opening = live.createChannel();
      let made: Channel;
      try {
        made = await within(clock, opening, operationTimeoutMs, timedOut);
      } catch (error) {
        void opening
          .then((late) => {
            late.on('error', () => {}); // held until closed: a channel error here must not go unhandled
            return late.close();
          })
          .catch(() => {});
        throw error;
      }
      made.on('error', (error: unknown) => report('CHANNEL_FAILED', `The channel consuming ${queue} failed`, error));
      /** Gives up on `made`: a channel the broker stopped answering on is closed without waiting. */
      const discard = () => {
        if (channel === made) {
          channel = undefined;
          consumerTag = undefined;
        }
        void made.close().catch(() => {});
      };
      try {
        await within(
          clock,
          (async () => {
            await made.prefetch(prefetch, false);
            await declareTopology(made, topic, group);
          })(),
          operationTimeoutMs,
          timedOut,
        );
      } catch (error) {
        discard();
        throw error;
      }
      if (leaving.signal.aborted) {
        discard();
        return;
      }
      channel = made;
      made.once('close', () => {
        if (channel !== made) return;
        channel = undefined;
        consumerTag = undefined;
        // Deliveries of this channel are back with the broker: their settles no longer count.
        if (!leaving.signal.aborted) void reattach();
      });
      try {
        // A quorum queue without a leader (e.g. just after a broker restart) leaves basic.consume unanswered.
        const reply = await within(
          clock,
          made.consume(
            queue,
            (raw) => {
              if (raw) onMessage(made, raw);
              // null: the broker cancelled the consumer (queue deleted); a new channel re-declares it.
              else if (channel === made) void made.close().catch(() => {});
            },
            { noAck: false },
          ),
          operationTimeoutMs,
          timedOut,
        );
        if (channel === made) consumerTag = reply.consumerTag;
      } catch (error) {
        discard();
        throw error;
      }
    };

    /** Attaches again with backoff until it works or the subscription closes; one loop at a time. */
    let resuming: Promise<void> | undefined;
    const reattach = (): Promise<void> => {
      resuming ??= (async () => {
        for (let failures = 0; !leaving.signal.aborted && !channel; failures++) {
          await delay(clock, backoffMs(failures), leaving.signal).catch(() => {});
          if (leaving.signal.aborted) return;
          try {
            await attach();
          } catch (error) {
            if (error instanceof TransportClosedError) return;
            report('SUBSCRIPTION_FAILED', `Resuming the subscription to ${queue} failed; retrying`, error);
          }
        }
      })().finally(() => {
        resuming = undefined;
        // A channel lost between the last check and now still needs a loop.
        if (!closed && !leaving.signal.aborted && !channel) void reattach();
      });
      return resuming;
    };

    // While the broker is unreachable this waits for it (a factory reconnects), unless `signal` aborts.
    const attaching = attach();
    try {
      await abortable(attaching, signal);
    } catch (error) {
      leaving.abort();
      // Aborted while attaching: close whatever channel the attach still opens.
      void attaching.then(
        () => channel?.close().catch(() => {}),
        () => {},
      );
      throw error;
    }

    const subscription: Subscription = {
      topic,
      group,
      close(closeOptions?: CloseSubscriptionOptions) {
        closing ??= (async () => {
          leaving.abort();
          const from = channel;
          if (from && consumerTag) await from.cancel(consumerTag).catch(() => {});
          await settledWithin(
            clock,
            [...inFlight].map((entry) => entry.task as Promise<void>),
            closeOptions?.deadlineMs ?? defaults.closeDeadlineMs,
          );
          for (const entry of inFlight) entry.settled = true;
          channel = undefined;
          // Closing the channel gives every unacked delivery back to the broker.
          await from?.close().catch(() => {});
          subscriptions.delete(subscription);
        })();
        return closing;
      },
      [Symbol.asyncDispose]: () => subscription.close(),
    };
    return subscription;
  }

  return tracePublish(transport, clock);
}
