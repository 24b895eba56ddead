import type { Envelope } from '../envelope/envelope.js';

/** What a transport promises, declared as data so conformance suites and users can check it. */
export interface TransportCapabilities {
  /** Messages survive a restart of the process (and of the server, where it persists). */
  readonly persistent: boolean;
  /** Several subscribers in one group compete; different groups each get every message. */
  readonly consumerGroups: boolean;
  /** Order promised to one subscriber: none, per message `key`, or per topic. */
  readonly ordering: 'none' | 'per-key' | 'per-topic';
  /** `nack({ delayMs })` and delayed publishing are honoured by the server. */
  readonly delayedDelivery: boolean;
}

/** One delivery of a message to a subscriber. Unacknowledged deliveries are redelivered. */
export interface Delivery<Payload = unknown> {
  readonly message: Envelope<Payload>;
  /** 1 on the first delivery; grows with each redelivery where the transport counts them. */
  readonly deliveryCount: number;
  /** Confirms the message is handled: it will not be delivered to this group again. */
  ack(): Promise<void>;
  /** Gives the message back for redelivery, after `delayMs` where supported. */
  nack(options?: { delayMs?: number }): Promise<void>;
}

/**
 * Called for each delivery. At-least-once: the subscription acks when the handler resolves and
 * nacks when it rejects, unless the handler already settled the delivery itself.
 */
export type DeliveryHandler<Payload = unknown> = (delivery: Delivery<Payload>) => Promise<void>;

/** Options of {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /** Deliveries handed out at once before acks come back. */
  prefetch?: number;
}

/** A live subscription. */
export interface Subscription {
  /**
   * Stops taking new deliveries and waits for handlers in flight to settle, up to
   * `deadlineMs`; deliveries not acked by then are redelivered later.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

/**
 * Moves envelopes between services. At-least-once: a message published (the promise resolved)
 * is delivered to every group at least once, even if a subscriber dies before acking.
 */
export interface Transport {
  /** A short name such as `memory`, `postgres`, `redis-streams`, `amqp`. */
  readonly name: string;
  readonly capabilities: TransportCapabilities;
  /** Publishes messages; resolves once the transport holds them durably (where it persists). */
  publish(topic: string, messages: readonly Envelope[], options?: { signal?: AbortSignal }): Promise<void>;
  /** Subscribes `handler` to `topic` as a member of consumer group `group`. */
  subscribe(topic: string, group: string, handler: DeliveryHandler, options?: SubscribeOptions): Promise<Subscription>;
  /** Closes every subscription this transport made; does not close clients the user passed in. */
  close(): Promise<void>;
}
