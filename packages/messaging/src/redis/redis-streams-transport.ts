import { createHash, randomUUID } from 'node:crypto';
import {
  type Clock,
  delay,
  exponential,
  InvalidOptionsError,
  OptionsValidator,
  systemClock,
} from '@bulwark/resilience';
import type { Redis } from 'ioredis';
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
import { TransportClosedError } from '../transport/transport-errors.js';
import ackSource from './lua/stream-ack.lua';
import claimSource from './lua/stream-claim.lua';
import createGroupSource from './lua/stream-create-group.lua';
import nackSource from './lua/stream-nack.lua';
import pruneConsumersSource from './lua/stream-prune-consumers.lua';
import scheduleSource from './lua/stream-schedule.lua';
import { redisCall } from './redis-call.js';

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

const defaults = {
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

/** Depth of one consumer group, from {@link RedisStreamsTransport.snapshot}. */
export interface RedisStreamsGroupSnapshot {
  readonly topic: string;
  readonly group: string;
  /** Entries not yet delivered to the group (`XINFO GROUPS` lag; `undefined` when Redis cannot tell). */
  readonly ready: number | undefined;
  /** Delivered and not yet acked, excluding nacked entries waiting out a delay. */
  readonly inFlight: number;
  /** Nacked entries waiting for their delay to pass. */
  readonly waiting: number;
  /** Consumers registered in the group (a crashed consumer stays until its entries are taken over). */
  readonly consumers: number;
}

/** The Redis Streams {@link Transport}, with `declareGroup()` and `snapshot()`. */
export interface RedisStreamsTransport extends Transport {
  /**
   * Creates a consumer group before anyone subscribes, so it receives what is published
   * meanwhile. Run it at deploy time when producers may start before consumers.
   */
  declareGroup(topic: string, group: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Per-group depths of every stream under the key prefix, for dashboards. */
  snapshot(options?: { signal?: AbortSignal }): Promise<RedisStreamsGroupSnapshot[]>;
  /**
   * Whether Redis answers, without asking it: `degraded` from a failed or timed-out publish, read,
   * ack or claim until one succeeds again.
   */
  health(): ConnectionHealth;
}

/** The Redis Streams transport's capabilities. */
export const redisStreamsCapabilities: TransportCapabilities = Object.freeze({
  // Entries live in the stream; they survive a Redis restart when Redis persists (AOF/RDB).
  persistent: true,
  consumerGroups: true,
  // One stream per topic, read in entry order by each group.
  ordering: 'per-topic',
  // Nacked entries wait in a per-group sorted set, still pending, until their delay is over;
  // delayed publishes wait in a per-topic sorted set until a subscriber's claim appends them.
  delayedDelivery: true,
  // XAUTOCLAIM takes over entries idle past the visibility timeout.
  visibilityTimeout: true,
  // XPENDING counts every delivery of an entry to the group.
  deliveryCount: true,
  // Entries stay in the stream whether or not a group reads them; a topic's first group starts
  // at the beginning of the stream (stream-create-group.lua), so it gets what came before it
  // (unless `maxLength` trimmed it meanwhile, as it would trim any unread entry).
  unroutable: 'held',
});

/** Field of a stream entry that holds the serialized envelope. */
const envelopeField = 'envelope';

interface LuaScript {
  readonly source: string;
  readonly sha: string;
}
const luaScript = (source: string): LuaScript => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const claimScript = luaScript(claimSource);
const nackScript = luaScript(nackSource);
const ackScript = luaScript(ackSource);
const scheduleScript = luaScript(scheduleSource);
const pruneConsumersScript = luaScript(pruneConsumersSource);
const createGroupScript = luaScript(createGroupSource);

async function runScript(
  redis: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
  settings: Pick<TransportSettings, 'clock' | 'operationTimeoutMs'>,
): Promise<unknown> {
  const send = (command: 'EVALSHA' | 'EVAL', first: string) =>
    redisCall(
      settings.clock,
      settings.operationTimeoutMs,
      `${command} on ${keys[0]}`,
      redis.callBuffer(command, first, keys.length, ...keys, ...args),
    );
  try {
    return await send('EVALSHA', script.sha);
  } catch (error) {
    // The script cache is empty after a restart or SCRIPT FLUSH: send the source once.
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return send('EVAL', script.source);
  }
}

function validate(options: RedisStreamsTransportOptions): void {
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

const isNoGroupError = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOGROUP');

const asError = (code: string, message: string, cause: unknown) => new MessagingError(code, message, { cause });

/**
 * A {@link Transport} on Redis Streams (Redis 6.2 or later), through the user's `ioredis` client.
 *
 * - Each topic is one stream; each group is a stream consumer group (`XGROUP CREATE … MKSTREAM`),
 *   so groups fan out and the members of one group compete.
 * - At-least-once: an entry stays in the group's pending entries list until acked (`XACK`). An
 *   entry left unsettled past `visibilityTimeoutMs` (its consumer died or hangs) is taken over
 *   with `XAUTOCLAIM`. `deliveryCount` comes from `XPENDING`.
 * - `nack({ delayMs })` keeps the entry pending and schedules it in a per-group sorted set; the
 *   entry is due again after the delay, for any member of the group, even if this one dies.
 * - Connections: publishing, acks and scripts use the client you pass, which the transport never
 *   closes. A blocking `XREADGROUP` would stall that client, so **each subscription opens one
 *   connection of its own** with `redis.duplicate()` and closes it when the subscription closes.
 *   Both reconnect on their own (ioredis). If Redis comes back without its data (no
 *   persistence), the subscription re-creates its group from the start of the new stream, so
 *   what is published after the restart is not skipped (what was lost with the data is lost).
 * - Requires Redis 6.2+ (`XAUTOCLAIM`); a single `Redis` client, not `Cluster` (the keys of one
 *   topic share a hash slot, but the transport duplicates a `Redis` connection to read).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { redisStreamsTransport } from '@bulwark/messaging/redis';

 *
 * const redis = new Redis(process.env.REDIS_URL);
 * const transport = redisStreamsTransport(redis, { visibilityTimeoutMs: 30_000 });
 * await transport.subscribe('orders', 'billing', async ({ message }) => bill(message.payload));
 * await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload })]);
 * ```
 */
export function redisStreamsTransport(redis: Redis, options: RedisStreamsTransportOptions = {}): RedisStreamsTransport {
  validate(options);
  const settings: TransportSettings = {
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? defaults.visibilityTimeoutMs,
    claimIntervalMs: options.claimIntervalMs ?? defaults.claimIntervalMs,
    blockMs: options.blockMs ?? defaults.blockMs,
    operationTimeoutMs: options.operationTimeoutMs ?? defaults.operationTimeoutMs,
    maxLength: options.maxLength ?? 0,
    consumerPruneIdleMs:
      options.consumerPruneIdleMs ??
      Math.max(600_000, (options.visibilityTimeoutMs ?? defaults.visibilityTimeoutMs) * 10),
    serializer: options.serializer ?? jsonSerializer,
    clock: options.clock ?? systemClock,
    onError: options.onError ?? emitWarningFor('redisStreamsTransport'),
    health: new ConnectionHealthTracker(options.clock ?? systemClock),
  };
  const keyPrefix = options.keyPrefix ?? defaults.keyPrefix;
  const groupStart = options.groupStart ?? defaults.groupStart;
  const defaultPrefetch = options.prefetch ?? defaults.prefetch;
  const consumerName = options.consumerName ?? defaults.consumerName;
  const streamKey = (topic: string) => `${keyPrefix}{${topic}}`;
  const trim: (string | number)[] = settings.maxLength > 0 ? ['MAXLEN', '~', settings.maxLength] : [];
  const subscriptions = new Set<RedisSubscription>();
  let closed = false;

  const bounded = <T>(what: string, call: Promise<T>) =>
    redisCall(settings.clock, settings.operationTimeoutMs, what, call);
  const ensureGroup = async (topic: string, group: string, from: 'new' | 'all' = groupStart) => {
    await runScript(redis, createGroupScript, [streamKey(topic)], [group, from === 'all' ? '0' : '$'], settings);
  };

  const assertOpen = () => {
    if (closed) throw new TransportClosedError('redis-streams');
  };

  const transport: RedisStreamsTransport = {
    name: 'redis-streams',
    capabilities: redisStreamsCapabilities,
    health() {
      return settings.health.health;
    },

    async publish(topic, messages, publishOptions) {
      publishOptions?.signal?.throwIfAborted();
      assertOpen();
      assertPublishable(topic, messages);
      if (messages.length === 0) return;
      const key = streamKey(topic);
      // Serialize everything first so a bad message rejects the whole call and stores nothing.
      const entries = messages.map((message) => settings.serializer.serialize(message));
      const delayMs = Math.max(0, Math.ceil(publishOptions?.delayMs ?? 0));
      try {
        if (delayMs > 0) {
          await runScript(redis, scheduleScript, [scheduledKey(key)], [delayMs, ...entries], settings);
          settings.health.succeeded();
          // Subscribers here append them when due; others find them at their next claim interval.
          for (const subscription of subscriptions) if (subscription.topic === topic) subscription.claimIn(delayMs);
          return;
        }
        if (entries.length === 1) {
          await bounded(`XADD to ${key}`, redis.xadd(key, ...trim, '*', envelopeField, entries[0] as Buffer));
          settings.health.succeeded();
          return;
        }
        // MULTI: a batch is appended whole and in order, never interleaved with another publisher's.
        const transaction = redis.multi();
        for (const entry of entries) transaction.xadd(key, ...trim, '*', envelopeField, entry);
        const results = await bounded(`MULTI of ${entries.length} XADD to ${key}`, transaction.exec());
        const failure = results?.find(([error]) => error)?.[0];
        if (!results || failure)
          throw failure ?? new MessagingError('PUBLISH_FAILED', `The MULTI of XADDs to ${key} was aborted`);
        settings.health.succeeded();
      } catch (error) {
        settings.health.failed(error);
        throw asError('PUBLISH_FAILED', `Publishing ${messages.length} message(s) to ${key} failed`, error);
      }
    },

    async subscribe(topic, group, handler, subscribeOptions) {
      subscribeOptions?.signal?.throwIfAborted();
      assertOpen();
      assertKeys({ topic, group });
      const prefetch = subscribeOptions?.prefetch ?? defaultPrefetch;
      if (!Number.isInteger(prefetch) || prefetch <= 0)
        throw new InvalidOptionsError('subscribe', [`prefetch must be a positive integer, got ${prefetch}`]);
      await ensureGroup(topic, group);
      const stream = streamKey(topic);
      const subscription = startSubscription({
        redis,
        topic,
        group,
        handler,
        prefetch,
        stream,
        delayed: `${stream}:delayed:${group}`,
        scheduled: scheduledKey(stream),
        consumer: `${consumerName}-${randomUUID()}`,
        settings,
        // A group that vanished means Redis lost its data (restarted without persistence): the
        // stream now holds only what was published since, which the group must not skip.
        ensureGroup: () => ensureGroup(topic, group, 'all'),
        onClosed: (closedSubscription) => subscriptions.delete(closedSubscription),
      });
      subscriptions.add(subscription);
      subscribeOptions?.signal?.addEventListener('abort', () => void subscription.close({ deadlineMs: 0 }), {
        once: true,
      });
      return subscription;
    },

    async declareGroup(topic, group, declareOptions) {
      declareOptions?.signal?.throwIfAborted();
      assertOpen();
      await ensureGroup(topic, group);
    },

    async snapshot(snapshotOptions) {
      const signal = snapshotOptions?.signal;
      const snapshots: RedisStreamsGroupSnapshot[] = [];
      const pattern = `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}{*}`;
      let cursor = '0';
      do {
        signal?.throwIfAborted();
        const [next, keys] = await bounded(
          'SCAN for streams',
          redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500, 'TYPE', 'stream'),
        );
        cursor = next;
        for (const key of keys) {
          const topic = key.slice(keyPrefix.length + 1, -1);
          const groups = (await bounded(`XINFO GROUPS ${key}`, redis.xinfo('GROUPS', key))) as (
            | string
            | number
            | null
          )[][];
          for (const fields of groups) {
            const info = new Map<string, string | number | null>();
            for (let index = 0; index + 1 < fields.length; index += 2)
              info.set(String(fields[index]), fields[index + 1] ?? null);
            const group = String(info.get('name'));
            const waiting = await bounded(`ZCARD ${key}`, redis.zcard(`${key}:delayed:${group}`));
            const lag = info.get('lag');
            snapshots.push({
              topic,
              group,
              ready: lag === null || lag === undefined ? undefined : Number(lag),
              inFlight: Math.max(0, Number(info.get('pending') ?? 0) - waiting),
              waiting,
              consumers: Number(info.get('consumers') ?? 0),
            });
          }
        }
      } while (cursor !== '0');
      return snapshots;
    },

    async close(closeOptions) {
      closed = true;
      await Promise.all([...subscriptions].map((subscription) => subscription.close(closeOptions)));
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };
  return tracePublish(transport, settings.clock);
}

const scheduledKey = (stream: string) => `${stream}:scheduled`;

interface TransportSettings {
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

interface SubscriptionContext {
  redis: Redis;
  topic: string;
  group: string;
  handler: DeliveryHandler;
  prefetch: number;
  stream: string;
  delayed: string;
  scheduled: string;
  consumer: string;
  settings: TransportSettings;
  ensureGroup: () => Promise<void>;
  onClosed: (subscription: RedisSubscription) => void;
}

interface RedisSubscription extends Subscription {
  /** Looks for due deliveries after `delayMs` (a delayed publish or nack will be due then). */
  claimIn(delayMs: number): void;
}

type StreamFields = Buffer[];
type ReadReply = [Buffer, [Buffer, StreamFields][]][] | null;
type ClaimReply = [Buffer, ...[Buffer, StreamFields, number][]];

interface InFlightDelivery {
  readonly id: string;
  readonly task: Promise<void>;
  /** Set once acked, nacked or taken back at close: later settles do nothing. */
  settled: boolean;
}

function startSubscription(context: SubscriptionContext): RedisSubscription {
  const { redis, topic, group, consumer, stream, delayed, handler, prefetch, settings } = context;
  const { clock, onError } = settings;
  // The blocking read gets a connection of its own (closed with the subscription). It waits for
  // the server as long as it takes rather than failing reads while Redis restarts.
  // socketTimeout: a read that got no byte back within its block time plus the operation timeout
  // is on a dead connection (a silent network): ioredis drops it and connects again.
  const blocking = redis.duplicate({
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    socketTimeout: settings.blockMs + settings.operationTimeoutMs,
  });
  blocking.on('error', () => {}); // ioredis reconnects by itself; failed reads are reported by the loop.
  let blockingClientId: number | undefined;
  let blockedInRead = false;
  const refreshClientId = () => {
    blocking.client('ID').then(
      (id) => {
        blockingClientId = Number(id);
      },
      () => {
        blockingClientId = undefined;
      },
    );
  };
  blocking.on('ready', refreshClientId);
  // Ids are per server run: a stale one could name another client's connection after a restart.
  blocking.on('close', () => {
    blockingClientId = undefined;
  });

  const stopping = new AbortController();
  // Keyed by delivery, not entry id: an entry taken back after the visibility timeout may come
  // back to this same subscription while its first handler still runs.
  const inFlight = new Set<InFlightDelivery>();
  const timers = new Set<unknown>();
  let claimRequested = true;
  let claimCursor = '0-0';
  let slotWaiter: (() => void) | undefined;
  let closing: Promise<void> | undefined;

  const report = (code: string, message: string, cause: unknown) => {
    try {
      onError(asError(code, message, cause));
    } catch {
      // A throwing error listener must not stop the subscription.
    }
  };

  // Interrupts a blocking XREADGROUP (as if it timed out) so the loop acts on news at once.
  const wakeReader = () => {
    if (!blockedInRead || blockingClientId === undefined) return;
    redis.client('UNBLOCK', blockingClientId).catch(() => {
      // Without the CLIENT permission the read simply ends at its block timeout.
    });
  };
  const requestClaim = () => {
    claimRequested = true;
    wakeReader();
  };
  const schedule = (callback: () => void, delayMs: number) => {
    const timer = clock.setTimeout(() => {
      timers.delete(timer);
      callback();
    }, delayMs);
    timers.add(timer);
  };
  const claimIn = (delayMs: number) => {
    if (stopping.signal.aborted) return;
    if (delayMs <= 0) requestClaim();
    // A few ms late so the server clock (which decides what is due) has passed the due time.
    else schedule(requestClaim, delayMs + 5);
  };

  // Acks issued while one ack is on the wire are sent together in the next one.
  let ackQueue: { id: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let acking = false;
  const flushAcks = async () => {
    acking = true;
    await Promise.resolve();
    while (ackQueue.length > 0) {
      const batch = ackQueue;
      ackQueue = [];
      try {
        await runScript(redis, ackScript, [stream], [group, consumer, ...batch.map((item) => item.id)], settings);
        for (const item of batch) item.resolve();
      } catch (error) {
        const failure = asError('ACK_FAILED', `Ack on ${stream} for group ${group} failed`, error);
        for (const item of batch) item.reject(failure);
      }
    }
    acking = false;
  };
  const ack = (id: string) =>
    new Promise<void>((resolve, reject) => {
      ackQueue.push({ id, resolve, reject });
      if (!acking) void flushAcks();
    });

  const nack = async (id: string, delayMs: number) => {
    try {
      await runScript(redis, nackScript, [stream, delayed], [group, consumer, delayMs, id], settings);
    } catch (error) {
      throw asError('NACK_FAILED', `Nack of ${id} on ${stream} for group ${group} failed`, error);
    }
    claimIn(delayMs);
  };

  const giveBack = (id: string) =>
    runScript(redis, nackScript, [stream, delayed], [group, consumer, 0, id], settings).then(
      () => {},
      (error: unknown) => report('NACK_FAILED', `Giving back ${id} of ${stream} failed`, error),
    );

  const dispatch = (id: string, fields: StreamFields, deliveryCount: number) => {
    // A delivery of the same entry still running here was taken back: its settles no longer count.
    for (const earlier of inFlight) if (earlier.id === id) earlier.settled = true;
    const state: { id: string; settled: boolean } = { id, settled: false };
    const entry: InFlightDelivery = Object.assign(state, {
      task: handle(id, fields, deliveryCount, state).finally(() => {
        inFlight.delete(entry);
        const waiter = slotWaiter;
        slotWaiter = undefined;
        waiter?.();
      }),
    });
    inFlight.add(entry);
  };

  const handle = async (id: string, fields: StreamFields, deliveryCount: number, state: { settled: boolean }) => {
    await Promise.resolve(); // Registered in inFlight before the handler runs.
    let message: Envelope;
    try {
      const index = fields.findIndex((field, position) => position % 2 === 0 && field.toString() === envelopeField);
      const bytes = index >= 0 ? fields[index + 1] : undefined;
      if (!bytes) throw new MessagingError('UNREADABLE_MESSAGE', `The entry has no "${envelopeField}" field`);
      message = settings.serializer.deserialize(bytes);
    } catch (error) {
      // Redelivering an unreadable entry would fail forever; it stays in the stream for inspection.
      report('UNREADABLE_MESSAGE', `Entry ${id} of ${stream} cannot be deserialized; acked without handling`, error);
      await ack(id).catch(() => {});
      return;
    }
    const delivery: Delivery = {
      message,
      deliveryCount,
      ack: async () => {
        if (state.settled) return;
        state.settled = true;
        await ack(id);
      },
      nack: async (nackOptions) => {
        if (state.settled) return;
        state.settled = true;
        await nack(id, Math.max(0, Math.ceil(nackOptions?.delayMs ?? 0)));
      },
    };
    try {
      await handler(delivery);
    } catch {
      await delivery.nack().catch((nackError: unknown) => {
        // Still pending: it is taken over after the visibility timeout.
        report('NACK_FAILED', `Nack of ${id} on ${stream} failed`, nackError);
      });
      return;
    }
    await delivery.ack().catch((ackError: unknown) => {
      report('ACK_FAILED', `Ack of ${id} on ${stream} failed; it will be redelivered`, ackError);
    });
  };

  const claim = async () => {
    const budget = prefetch - inFlight.size;
    if (budget <= 0) return;
    const reply = (await runScript(
      redis,
      claimScript,
      [stream, delayed, context.scheduled],
      [group, consumer, settings.visibilityTimeoutMs, budget, claimCursor, settings.maxLength],
      settings,
    )) as ClaimReply;
    claimCursor = reply[0].toString();
    for (let index = 1; index < reply.length; index++) {
      const [id, fields, count] = reply[index] as [Buffer, StreamFields, number];
      dispatch(id.toString(), fields, Number(count));
    }
    // A scan that did not finish continues at once: there may be more abandoned entries.
    if (claimCursor !== '0-0') claimRequested = true;
    if (clock.now() >= nextPruneAt) {
      nextPruneAt = clock.now() + pruneIntervalMs;
      await runScript(redis, pruneConsumersScript, [stream], [group, pruneIdleMs], settings);
    }
  };
  // Consumers of crashed processes, looked for by each subscription every minute at most.
  const pruneIdleMs = settings.consumerPruneIdleMs;
  const pruneIntervalMs = Math.min(60_000, pruneIdleMs);
  let nextPruneAt = clock.now() + pruneIntervalMs;

  const waitForSlot = () =>
    inFlight.size < prefetch || stopping.signal.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          slotWaiter = resolve;
        });

  // 100 ms doubling to 2 s: quick after a blip, gentle during a long outage.
  const retryBackoff = exponential({ initialMs: 100, maxMs: 2_000 });
  const readLoop = async () => {
    let nextClaimAt = 0;
    let failures = 0;
    while (!stopping.signal.aborted) {
      await waitForSlot();
      if (stopping.signal.aborted) break;
      try {
        if (claimRequested || clock.now() >= nextClaimAt) {
          claimRequested = false;
          nextClaimAt = clock.now() + settings.claimIntervalMs;
          await claim();
          failures = 0;
          settings.health.succeeded();
          continue;
        }
        const free = prefetch - inFlight.size;
        const blockMs = Math.max(1, Math.min(settings.blockMs, nextClaimAt - clock.now()));
        blockedInRead = true;
        let reply: ReadReply;
        try {
          reply = (await blocking.callBuffer(
            'XREADGROUP',
            'GROUP',
            group,
            consumer,
            'COUNT',
            free,
            'BLOCK',
            blockMs,
            'STREAMS',
            stream,
            '>',
          )) as ReadReply;
        } finally {
          blockedInRead = false;
        }
        failures = 0;
        settings.health.succeeded();
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            // Read as the subscription closed: give it straight back to the rest of the group.
            if (stopping.signal.aborted) await giveBack(id.toString());
            else dispatch(id.toString(), fields, 1);
          }
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        if (isNoGroupError(error)) {
          // Redis came back without its data (no persistence): the group has to be made again.
          await context.ensureGroup().catch((groupError: unknown) => {
            report('SUBSCRIPTION_FAILED', `Re-creating group ${group} on ${stream} failed`, groupError);
          });
        } else {
          settings.health.failed(error);
          report('SUBSCRIPTION_FAILED', `Reading ${stream} for group ${group} failed; retrying`, error);
        }
        failures += 1;
        const waitMs = retryBackoff.delayMs({ attempt: failures, previousDelayMs: 0, random: () => 0 });
        await delay(clock, waitMs, stopping.signal).catch(() => {});
      }
    }
  };

  refreshClientId();
  const reading = readLoop();

  const subscription: RedisSubscription = {
    topic,
    group,
    claimIn,
    close(closeOptions?: CloseSubscriptionOptions) {
      closing ??= (async () => {
        stopping.abort();
        wakeReader();
        slotWaiter?.();
        const drained = (async () => {
          await reading;
          // Looked at after the loop ended: its last read may have dispatched more deliveries.
          await Promise.all([...inFlight].map((entry) => entry.task));
        })();
        const settledInTime = await settledWithin(
          clock,
          [drained],
          closeOptions?.deadlineMs ?? defaults.closeDeadlineMs,
        );
        for (const timer of timers) clock.clearTimeout(timer);
        timers.clear();
        // Handlers still running lose their deliveries: due now for the rest of the group, and
        // their late acks no longer count.
        const unsettled = [...inFlight].filter((entry) => !entry.settled);
        for (const entry of unsettled) entry.settled = true;
        await Promise.all(unsettled.map(({ id }) => giveBack(id)));
        blocking.disconnect();
        await reading;
        if (settledInTime) {
          // Leave no empty consumer behind in the group.
          // Bounded: close() must end even when Redis does not answer.
          const bounded = <T>(what: string, call: Promise<T>) =>
            redisCall(clock, settings.operationTimeoutMs, what, call);
          const pending = (await bounded(
            `XPENDING ${stream}`,
            redis.xpending(stream, group, '-', '+', 1, consumer),
          ).catch(() => [1])) as unknown[];
          if (pending.length === 0)
            await bounded(`XGROUP DELCONSUMER ${stream}`, redis.xgroup('DELCONSUMER', stream, group, consumer)).catch(
              () => {},
            );
        }
        context.onClosed(subscription);
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}
