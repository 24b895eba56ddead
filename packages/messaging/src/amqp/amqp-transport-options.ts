import { type Clock, OptionsValidator, systemClock } from '@bulwark/resilience';
import type { ChannelModel } from 'amqplib';
import { jsonSerializer, type Serializer } from '../envelope/serializer.js';
import { MessagingError } from '../errors/messaging-error.js';
import { emitWarningFor } from '../errors/warning-reporter.js';

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
   * Delayed publishes also use two exchanges named after it: `<exchange>.delayed` (where delay
   * queues dead-letter, every group queue is bound to it too) and its alternate exchange
   * `<exchange>.unrouted`, which keeps what no group receives in a durable queue per topic,
   * `<exchange>.unrouted:<topic>`, until a group of the topic appears.
   * @defaultValue `'bulwark'`
   */
  exchange?: string;
  /**
   * Prefix of the queues the transport declares per group and delay. A group's queue is
   * `<prefix><topic>:<group>`; its delay queues `<prefix><topic>:<group>:delay:<ms>`; the delay
   * queues of delayed publishes `<prefix><topic>:delayed:<ms>`.
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

/** Defaults of {@link AmqpTransportOptions}, plus the close deadline of subscriptions. */
export const amqpTransportDefaults = {
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

/** Throws `InvalidOptionsError` listing every problem of `options`. */
export function validateAmqpTransportOptions(options: AmqpTransportOptions): void {
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

/** The options with their defaults applied, shared by the transport's parts. */
export interface AmqpSettings {
  readonly exchange: string;
  readonly queuePrefix: string;
  readonly queueType: 'quorum' | 'classic';
  /** Arguments of every group queue: the queue type's, then the user's. */
  readonly queueArguments: Record<string, unknown>;
  readonly prefetch: number;
  readonly publishAttempts: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly operationTimeoutMs: number;
  readonly serializer: Serializer;
  readonly clock: Clock;
  /** Hands a background error to `onError`; a throwing listener must not break the transport. */
  readonly report: (code: string, message: string, cause?: unknown) => void;
}

/** Validates `options` and applies the defaults. */
export function resolveAmqpTransportOptions(options: AmqpTransportOptions): AmqpSettings {
  validateAmqpTransportOptions(options);
  const queueType = options.queueType ?? amqpTransportDefaults.queueType;
  const onError = options.onError ?? emitWarningFor('amqpTransport');
  return {
    exchange: options.exchange ?? amqpTransportDefaults.exchange,
    queuePrefix: options.queuePrefix ?? amqpTransportDefaults.queuePrefix,
    queueType,
    queueArguments: {
      ...(queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {}),
      ...options.queueArguments,
    },
    prefetch: options.prefetch ?? amqpTransportDefaults.prefetch,
    publishAttempts: options.publishAttempts ?? amqpTransportDefaults.publishAttempts,
    reconnectInitialMs: options.reconnectInitialMs ?? amqpTransportDefaults.reconnectInitialMs,
    reconnectMaxMs: options.reconnectMaxMs ?? amqpTransportDefaults.reconnectMaxMs,
    operationTimeoutMs: options.operationTimeoutMs ?? amqpTransportDefaults.operationTimeoutMs,
    serializer: options.serializer ?? jsonSerializer,
    clock: options.clock ?? systemClock,
    report: (code, message, cause) => {
      try {
        onError(new MessagingError(code, message, { cause }));
      } catch {
        // A throwing error listener must not break the transport.
      }
    },
  };
}
