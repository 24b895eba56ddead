import { type Clock, OptionsValidator } from '@bulwark/resilience';
import type { Serializer } from '../envelope/serializer.js';
import type { MessagingError } from '../errors/messaging-error.js';
import type { ConnectionHealthTracker } from '../transport/connection-health.js';

/** Options of {@link redisStreamsTransport}. */
export interface RedisStreamsTransportOptions {
  /**
   * Prefix of every key. A topic `orders` lives in the stream `<prefix>{orders}` and a group's
   * delayed set in `<prefix>{orders}:delayed:<group>` (the braces keep them in one cluster slot).
   * @defaultValue `'bulwark:stream:'`
   */
  keyPrefix?: string;
  /**
   * A delivery left unsettled this long is taken back and redelivered to a member of the group
   * with `XAUTOCLAIM` (SQS semantics: its consumer is presumed dead or stuck). The late ack of the
   * first holder then does nothing. Size it above your slowest handler.
   * @defaultValue `30_000`
   */
  visibilityTimeoutMs?: number;
  /**
   * How often each subscription looks for abandoned deliveries and for nacked ones whose delay
   * is over. Nacks also schedule a look at their due time, so this bounds only the takeover delay.
   * @defaultValue `1_000`
   */
  claimIntervalMs?: number;
  /**
   * Longest time one blocking `XREADGROUP` waits for new entries before the loop checks again.
   * @defaultValue `5_000`
   */
  blockMs?: number;
  /**
   * Caps each stream near this many entries (`XADD … MAXLEN ~ n`). Trimming deletes entries
   * whatever the groups did with them: size it well above the backlog a slow group may build.
   * @defaultValue `undefined` (no trimming)
   */
  maxLength?: number;
  /**
   * Where a new consumer group starts when the topic has groups already: `'new'` (only messages
   * published after it was created, like a new RabbitMQ queue) or `'all'` (every entry still in
   * the stream). A topic's first group always starts at the beginning of the stream, so the
   * messages published before any group existed are held for it, not skipped.
   * @defaultValue `'new'`
   */
  groupStart?: 'new' | 'all';
  /** Deliveries handed out at once per subscription unless `subscribe` says otherwise. @defaultValue `10` */
  prefetch?: number;
  /**
   * Name of this process among the consumers of a group; each subscription appends a unique
   * suffix so that two subscriptions never share a pending entries list.
   * @defaultValue `'consumer'`
   */
  consumerName?: string;
  /**
   * A consumer that holds no pending entry and was idle this long is removed from its group: a
   * crashed process's consumer would otherwise stay listed forever. (A live idle consumer removed
   * this way is re-created by its next read.)
   * @defaultValue the larger of 10 minutes and 10 × `visibilityTimeoutMs`
   */
  consumerPruneIdleMs?: number;
  /**
   * Longest wait for Redis to answer a publish, an ack, a nack, a claim or a group declaration
   * (the blocking read waits `blockMs` more). Past it the call rejects with a `MessagingError`
   * (`PUBLISH_FAILED` caused by `REDIS_TIMEOUT` for a publish); a subscription retries with
   * backoff. Give your client ioredis' `socketTimeout` too, so that a connection that went silent
   * is dropped and made again rather than waited on: the transport sets it on its own reading
   * connections.
   * @defaultValue `10_000`
   */
  operationTimeoutMs?: number;
  /** @defaultValue `jsonSerializer` */
  serializer?: Serializer;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * Called with errors met in the background (a lost connection, a message that cannot be
   * deserialized, a failed ack). The subscription keeps going after each one.
   * @defaultValue emits a process warning (`process.emitWarning`, type `BulwarkWarning`, code
   * `BULWARK_<error code>`); pass a function to send them to your logger instead
   */
  onError?: (error: MessagingError) => void;
}

/** The defaults of {@link RedisStreamsTransportOptions}, documented on each option. */
export const redisStreamsDefaults = {
  keyPrefix: 'bulwark:stream:',
  visibilityTimeoutMs: 30_000,
  claimIntervalMs: 1_000,
  blockMs: 5_000,
  operationTimeoutMs: 10_000,
  groupStart: 'new',
  prefetch: 10,
  closeDeadlineMs: 30_000,
  consumerName: 'consumer',
} as const;

/** The resolved options, shared by the transport and its subscriptions. */
export interface TransportSettings {
  visibilityTimeoutMs: number;
  claimIntervalMs: number;
  blockMs: number;
  /** 0: no trimming. */
  maxLength: number;
  consumerPruneIdleMs: number;
  operationTimeoutMs: number;
  serializer: Serializer;
  clock: Clock;
  onError: (error: MessagingError) => void;
  /** Shared by the transport and its subscriptions. */
  health: ConnectionHealthTracker;
}

/** Throws one `InvalidOptionsError` listing every bad option. */
export function validateRedisStreamsOptions(options: RedisStreamsTransportOptions): void {
  const validator = new OptionsValidator('redisStreamsTransport');
  const positive = (name: keyof RedisStreamsTransportOptions, value: unknown) => {
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value <= 0))
      validator.report(`${name} must be a positive integer, got ${String(value)}`);
  };
  positive('visibilityTimeoutMs', options.visibilityTimeoutMs);
  positive('claimIntervalMs', options.claimIntervalMs);
  positive('blockMs', options.blockMs);
  positive('operationTimeoutMs', options.operationTimeoutMs);
  positive('maxLength', options.maxLength);
  positive('prefetch', options.prefetch);
  positive('consumerPruneIdleMs', options.consumerPruneIdleMs);
  if (options.groupStart !== undefined && options.groupStart !== 'new' && options.groupStart !== 'all')
    validator.report(`groupStart must be 'new' or 'all', got ${String(options.groupStart)}`);
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string')
    validator.report('keyPrefix must be a string');
  validator.throwIfInvalid();
}
