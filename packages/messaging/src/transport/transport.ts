import type { Envelope } from '../envelope/envelope.js';
import type { JsonEnvelope } from '../envelope/json-envelope.js';
import type { ConnectionHealth } from './connection-health.js';

/**
 * What a transport promises, declared as data so the conformance suite, the consumer and users
 * can check it instead of reading the adapter's source.
 */
export interface TransportCapabilities {
  /** Messages survive a restart of the process (and of the server, where it persists). */
  readonly persistent: boolean;
  /** Several subscribers in one group compete; different groups each get every message. */
  readonly consumerGroups: boolean;
  /**
   * Order promised within one consumer group:
   * - `none`: no promise;
   * - `per-topic`: a single subscriber receives the topic's messages in publish order (redeliveries aside);
   * - `per-key`: messages sharing an {@link orderingKeyOf | ordering key} are delivered in publish
   *   order and one at a time: the next message of a key is not delivered to any member of the
   *   group until the previous one is acked (a nacked or expired one is redelivered first).
   */
  readonly ordering: 'none' | 'per-key' | 'per-topic';
  /** `nack({ delayMs })` and `publish(…, { delayMs })` are honoured. */
  readonly delayedDelivery: boolean;
  /**
   * A delivery left unsettled longer than the visibility timeout is redelivered, even while its
   * subscriber lives (SQS semantics). Without it, unacked deliveries come back only when the
   * subscription closes or its connection dies.
   */
  readonly visibilityTimeout: boolean;
  /**
   * `deliveryCount` counts every delivery. When false the transport only knows whether a
   * message was delivered before: `deliveryCount` is 1, then 2 on any redelivery.
   */
  readonly deliveryCount: boolean;
  /**
   * What `publish` does with a message for a topic that has no consumer group yet (nobody
   * subscribed to it or declared a group on it). Never "accept and drop":
   * - `held`: the transport keeps the message and delivers it to the first group(s) of the topic
   *   when they appear (every group that exists at that moment gets it; groups made later do not).
   *   A producer (an outbox relay) may start before its consumers.
   * - `rejected`: `publish` rejects with {@link @bulwark/messaging!UnroutableMessageError} and nothing counts as
   *   published; the caller keeps the message (an outbox keeps its row and tries again). Declare
   *   the groups at deploy time (`declareGroup`) so producers can start first.
   */
  readonly unroutable: 'held' | 'rejected';
}

/**
 * The key a transport with `ordering: 'per-key'` orders by: the FIFO `groupId` if the message has
 * one, else its partition `key`; `undefined` means the message is unordered.
 */
export function orderingKeyOf(message: Pick<Envelope, 'key' | 'groupId'>): string | undefined {
  return message.groupId ?? message.key;
}

/** Options of {@link Delivery.nack}. */
export interface NackOptions {
  /** Redeliver after this long, where the transport supports delayed delivery. @defaultValue 0 */
  delayMs?: number;
}

/**
 * One delivery of a message to a subscriber. Until it is settled (acked or nacked) the message is
 * held for this subscriber; a delivery never settled is redelivered when its subscription closes,
 * when its connection or process dies, or after the visibility timeout where the transport has one.
 *
 * Settling is idempotent: the first `ack`/`nack` wins, later calls do nothing. Settling a delivery
 * the transport has already taken back (its visibility timeout ran out, its subscription closed)
 * does nothing either: the message is, or will be, redelivered.
 */
export interface Delivery<Payload = unknown> {
  readonly message: Envelope<Payload>;
  /** 1 on the first delivery; grows with each redelivery (see {@link TransportCapabilities.deliveryCount}). */
  readonly deliveryCount: number;
  /** Confirms the message is handled: it will not be delivered to this group again. */
  ack(): Promise<void>;
  /** Gives the message back for redelivery, after `delayMs` where supported. */
  nack(options?: NackOptions): Promise<void>;
}

/**
 * Called for each delivery. At-least-once: the subscription acks when the handler resolves and
 * nacks (without delay) when it rejects, unless the handler already settled the delivery itself.
 */
export type DeliveryHandler<Payload = unknown> = (delivery: Delivery<Payload>) => Promise<void>;

/** Options of {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /**
   * Deliveries handed to this subscriber at once before they are settled; as a handler that returns
   * settles its delivery, also the most handlers the subscription runs at once. The AMQP and NATS
   * transports count a delivery until it is settled, as the broker does (`basic.qos`), so there a
   * handler that calls `delivery.ack()` and goes on working frees its slot before it returns.
   * @defaultValue 10
   */
  prefetch?: number;
  /** Aborting it closes the subscription as `close({ deadlineMs: 0 })` would. */
  signal?: AbortSignal;
}

/** Options of {@link Subscription.close}. */
export interface CloseSubscriptionOptions {
  /**
   * How long to wait for handlers in flight; deliveries still unsettled then are given back for
   * redelivery (their handlers keep running, but their acks no longer count).
   * @defaultValue 30_000
   */
  deadlineMs?: number;
}

/** A live subscription of one member of a consumer group. */
export interface Subscription {
  /** The topic subscribed to. */
  readonly topic: string;
  /** The consumer group this subscriber belongs to. */
  readonly group: string;
  /**
   * Stops taking new deliveries at once, then waits for handlers in flight to settle, up to
   * `deadlineMs`; deliveries not settled by then are given back for redelivery. Idempotent.
   */
  close(options?: CloseSubscriptionOptions): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link Transport.publish}. */
export interface PublishOptions {
  signal?: AbortSignal;
  /** Deliver no earlier than this, where the transport supports delayed delivery. @defaultValue 0 */
  delayMs?: number;
}

/**
 * Moves envelopes between services. The contract every adapter keeps (and the conformance suite
 * in `@bulwark/messaging/testing` checks):
 *
 * - **At-least-once.** Once `publish` resolves, every consumer group that existed at that moment
 *   receives each message at least once, even if a subscriber dies before acking. A group exists
 *   from its first `subscribe` (adapters may offer `declareGroup` to declare it earlier).
 * - **Nothing accepted is dropped.** A message published to a topic with no group is either held
 *   for the topic's first group(s) or refused with {@link @bulwark/messaging!UnroutableMessageError}, as
 *   {@link TransportCapabilities.unroutable} declares; `publish` never resolves for a message
 *   nobody can ever receive.
 * - **Groups.** Members of one group compete for messages; every group gets every message.
 * - **Settling.** A delivery is acked or nacked once; an unsettled delivery comes back when its
 *   subscription closes or dies (and after the visibility timeout, where declared).
 * - **Order** as declared by {@link TransportCapabilities.ordering}.
 * - **Close.** `close()` closes every subscription this transport made (draining in-flight
 *   handlers within their deadline), after which `publish` and `subscribe` reject with
 *   `TransportClosedError`. It never closes clients the user passed in.
 */
export interface Transport {
  /** A short name such as `memory`, `postgres`, `redis-streams`, `amqp`. */
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  /**
   * Publishes messages in order; resolves once the transport holds them (durably, where it
   * persists) for a group that will deliver them.
   *
   * @throws {@link @bulwark/messaging!InvalidMessagingValueError} before anything of the call is
   * sent, when a message is not an envelope object, holds an id, topic, type, key, group id or
   * header no transport sends unchanged, or cannot be serialized.
   * @throws {@link @bulwark/messaging!UnroutableMessageError} when the topic has no group and the transport declares
   * `unroutable: 'rejected'` (nothing of the call was published).
   */
  publish(topic: string, messages: readonly Envelope[], options?: PublishOptions): Promise<void>;
  /**
   * Publishes envelopes that are already JSON text (as an outbox keeps them) as they are, with the
   * same promises as `publish`: the body on the wire is `message.json` instead of the serializer's
   * output. Present only on transports whose serializer is {@link @bulwark/messaging!jsonSerializer}
   * (the default), so a consumer reads the same envelope as if it had gone through `publish`;
   * absent on a transport given another serializer, which must be handed envelopes. The outbox relay
   * uses it when the transport has it and no claim check is set, and spares parsing each stored
   * message and serializing it again.
   *
   * The text is not parsed here (that is the saving): it was checked where the
   * {@link @bulwark/messaging!JsonEnvelope} was made, by {@link @bulwark/messaging!toJsonEnvelope}
   * or by the PostgreSQL outbox from its `jsonb`.
   *
   * @throws {@link @bulwark/messaging!InvalidMessagingValueError} before anything of the call is
   * sent, when a message is not a `JsonEnvelope` (an object with its fields written by hand, or a
   * copy of one: field `message`), or its topic, id, type, key or group id cannot be sent.
   * @throws {@link @bulwark/messaging!UnroutableMessageError} as `publish` does.
   */
  publishJson?(topic: string, messages: readonly JsonEnvelope[], options?: PublishOptions): Promise<void>;
  /**
   * Creates a consumer group before anyone subscribes, so it receives what is published from now
   * on. Optional: transports that have it let producers (and a consumer's dead letters) go out
   * before the consumers start. Idempotent.
   */
  declareGroup?(topic: string, group: string, options?: { signal?: AbortSignal }): Promise<void> | void;
  /** Subscribes `handler` to `topic` as a member of consumer group `group`. */
  subscribe(topic: string, group: string, handler: DeliveryHandler, options?: SubscribeOptions): Promise<Subscription>;
  /**
   * Whether the transport reaches its server now (`degraded` while it reconnects); absent on
   * transports without a connection. Consumers report it in their `snapshot()`.
   */
  health?(): ConnectionHealth;
  /** Closes every subscription this transport made; does not close clients the user passed in. */
  close(options?: CloseSubscriptionOptions): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
