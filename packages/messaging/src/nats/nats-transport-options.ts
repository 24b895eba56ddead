import { type Clock, OptionsValidator } from '@bulwark/resilience';
import type { Serializer } from '../envelope/serializer.js';
import type { MessagingError } from '../errors/messaging-error.js';

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /**
   * The JetStream stream holding every topic's messages; created (interest retention, file
   * storage) when missing. Several applications on one server each use their own.
   * @defaultValue `'BULWARK'`
   */
  stream?: string;
  /**
   * First token of every subject; the stream captures `<subjectPrefix>.>`. A topic `orders` is
   * published on `<subjectPrefix>.t.orders` (topics that are not plain dotted tokens are encoded).
   * @defaultValue `'bulwark'`
   */
  subjectPrefix?: string;
  /** Replicas of the stream when the transport creates it (a clustered server). @defaultValue `1` */
  replicas?: number;
  /**
   * How long the stream remembers a `Nats-Msg-Id`: a message published again within it (an outbox
   * relay retrying after a lost acknowledgement) is stored once.
   * @defaultValue `120_000`
   */
  duplicateWindowMs?: number;
  /**
   * A delivery left unsettled this long is redelivered to a member of the group (the consumer's
   * `ack_wait`; SQS semantics). A settle after it does nothing. Size it above your slowest handler.
   * Set on a group's consumer whenever a transport declares or subscribes to the group: the process
   * that does so last decides it for the whole group.
   * @defaultValue `30_000`
   */
  visibilityTimeoutMs?: number;
  /** Deliveries handed out at once per subscription unless `subscribe` says otherwise. @defaultValue `10` */
  prefetch?: number;
  /**
   * Attempts to publish a message whose acknowledgement did not come (a timeout, a reconnect). Sending
   * again is safe: the stream deduplicates by `Nats-Msg-Id`.
   * @defaultValue `3`
   */
  publishAttempts?: number;
  /**
   * Longest wait for the server to answer a publish, a stream or consumer request.
   * @defaultValue `10_000`
   */
  operationTimeoutMs?: number;
  /**
   * How long one pull request of a subscription waits on the server for messages before the
   * subscription asks again (at least 1 000, the client's minimum). A subscription closing with
   * unsettled deliveries waits up to this long before it gives them back (see {@link natsTransport}),
   * and a subscription whose server restarted pulls again within it.
   * @defaultValue `5_000`
   */
  pullExpiresMs?: number;
  /**
   * A subscription whose group's consumer holds messages (`num_pending`) and delivered none, to
   * any member of the group, for this long while the subscription's pulls came back empty reports
   * it through `onError` (code `UNDELIVERED_MESSAGES`) and the transport's `snapshot()`
   * (`undeliveredSince`): nats-server 2.9 acknowledges publishes to a stream whose files are gone
   * and never delivers them. Found between this and 1.5 × this after it began; an idle
   * subscription checks its consumer once per half of it.
   * @defaultValue `30_000`
   */
  undeliveredWarningMs?: number;
  /** First wait before a subscription retries after a failure; doubles up to `retryMaxMs`. @defaultValue `100` */
  retryInitialMs?: number;
  /** @defaultValue `5_000` */
  retryMaxMs?: number;
  /** @defaultValue `jsonSerializer` */
  serializer?: Serializer;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * Called with errors met in the background (a lost connection, a failed pull, a message that
   * cannot be deserialized). The transport keeps going after each one.
   * @defaultValue emits a process warning (`process.emitWarning`, type `BulwarkWarning`, code
   * `BULWARK_<error code>`); pass a function to send them to your logger instead
   */
  onError?: (error: MessagingError) => void;
}

/** The defaults of {@link NatsTransportOptions}. */
export const natsTransportDefaults = {
  stream: 'BULWARK',
  subjectPrefix: 'bulwark',
  replicas: 1,
  duplicateWindowMs: 120_000,
  visibilityTimeoutMs: 30_000,
  prefetch: 10,
  publishAttempts: 3,
  operationTimeoutMs: 10_000,
  pullExpiresMs: 5_000,
  retryInitialMs: 100,
  retryMaxMs: 5_000,
  closeDeadlineMs: 30_000,
  undeliveredWarningMs: 30_000,
} as const;

/** Stream names may not hold these (they become subjects and file names on the server). */
const badStreamName = /[\s.*>/\\]/;
const plainSubjectPrefix = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Throws `InvalidOptionsError` listing every problem of `options`. */
export function validateNatsTransportOptions(options: NatsTransportOptions): void {
  const validator = new OptionsValidator('natsTransport');
  const positive = (name: keyof NatsTransportOptions, minimum = 1) => {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < minimum))
      validator.report(`${name} must be an integer of at least ${minimum}, got ${String(value)}`);
  };
  positive('replicas');
  positive('duplicateWindowMs');
  positive('visibilityTimeoutMs');
  positive('prefetch');
  positive('publishAttempts');
  positive('operationTimeoutMs');
  positive('pullExpiresMs', 1_000);
  positive('retryInitialMs');
  positive('retryMaxMs');
  positive('undeliveredWarningMs');
  if (options.stream !== undefined && (typeof options.stream !== 'string' || options.stream === ''))
    validator.report('stream must be a non-empty string');
  else if (options.stream !== undefined && badStreamName.test(options.stream))
    validator.report(
      `stream must hold no whitespace, '.', '*', '>', '/' or '\\', got ${JSON.stringify(options.stream)}`,
    );
  if (
    options.subjectPrefix !== undefined &&
    (typeof options.subjectPrefix !== 'string' || !plainSubjectPrefix.test(options.subjectPrefix))
  )
    validator.report(
      `subjectPrefix must be dotted tokens of letters, digits, '-' and '_', got ${JSON.stringify(options.subjectPrefix)}`,
    );
  validator.throwIfInvalid();
}
