import { randomUUID } from 'node:crypto';
import { InvalidOptionsError, systemClock } from '@bulwark/resilience';
import type { Redis } from 'ioredis';
import type { JsonEnvelope } from '../envelope/json-envelope.js';
import { jsonSerializer, serializeToPublish } from '../envelope/serializer.js';
import { assertKeys, assertPublishable, assertPublishableJson } from '../envelope/storable-values.js';
import { emitWarningFor } from '../errors/warning-reporter.js';
import { tracePublish } from '../telemetry/message-spans.js';
import type { BrokerTransport } from '../transport/broker-transport.js';
import { ConnectionHealthTracker } from '../transport/connection-health.js';
import type { PublishOptions, Transport, TransportCapabilities } from '../transport/transport.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import { redisCall } from './redis-call.js';
import {
  type RedisStreamsTransportOptions,
  redisStreamsDefaults,
  type TransportSettings,
  validateRedisStreamsOptions,
} from './redis-streams-options.js';
import {
  appendScript,
  asError,
  createGroupScript,
  envelopeField,
  runScript,
  scheduledKey,
  scheduleScript,
} from './redis-streams-scripts.js';
import { type RedisSubscription, startSubscription } from './redis-streams-subscription.js';

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

/**
 * The Redis Streams {@link BrokerTransport}. `declareGroup` creates the stream's consumer group;
 * `snapshot` reads every stream under the key prefix; `health()` is `degraded` from a failed or
 * timed-out publish, read, ack or claim until one succeeds again.
 */
export interface RedisStreamsTransport extends BrokerTransport<RedisStreamsGroupSnapshot> {}

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
  validateRedisStreamsOptions(options);
  const settings: TransportSettings = {
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? redisStreamsDefaults.visibilityTimeoutMs,
    claimIntervalMs: options.claimIntervalMs ?? redisStreamsDefaults.claimIntervalMs,
    blockMs: options.blockMs ?? redisStreamsDefaults.blockMs,
    operationTimeoutMs: options.operationTimeoutMs ?? redisStreamsDefaults.operationTimeoutMs,
    maxLength: options.maxLength ?? 0,
    consumerPruneIdleMs:
      options.consumerPruneIdleMs ??
      Math.max(600_000, (options.visibilityTimeoutMs ?? redisStreamsDefaults.visibilityTimeoutMs) * 10),
    serializer: options.serializer ?? jsonSerializer,
    clock: options.clock ?? systemClock,
    onError: options.onError ?? emitWarningFor('redisStreamsTransport'),
    health: new ConnectionHealthTracker(options.clock ?? systemClock),
  };
  const keyPrefix = options.keyPrefix ?? redisStreamsDefaults.keyPrefix;
  const groupStart = options.groupStart ?? redisStreamsDefaults.groupStart;
  const defaultPrefetch = options.prefetch ?? redisStreamsDefaults.prefetch;
  const consumerName = options.consumerName ?? redisStreamsDefaults.consumerName;
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

  /** Appends serialized envelopes to the topic's stream, in order (or schedules them after `delayMs`). */
  const append = async (topic: string, entries: readonly (Buffer | string)[], publishOptions?: PublishOptions) => {
    const key = streamKey(topic);
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
        await bounded(`XADD to ${key}`, redis.xadd(key, ...trim, '*', envelopeField, entries[0] as Buffer | string));
        settings.health.succeeded();
        return;
      }
      // One script: a batch is appended whole and in order, never interleaved with another publisher's.
      await runScript(redis, appendScript, [key], [settings.maxLength, envelopeField, ...entries], settings);
      settings.health.succeeded();
    } catch (error) {
      settings.health.failed(error);
      throw asError('PUBLISH_FAILED', `Publishing ${entries.length} message(s) to ${key} failed`, error);
    }
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
      // Serialize everything first so a bad message rejects the whole call and stores nothing.
      await append(
        topic,
        messages.map((message) => serializeToPublish(settings.serializer, message)),
        publishOptions,
      );
    },

    ...(settings.serializer === jsonSerializer && {
      async publishJson(topic: string, messages: readonly JsonEnvelope[], publishOptions?: PublishOptions) {
        publishOptions?.signal?.throwIfAborted();
        assertOpen();
        assertPublishableJson(topic, messages);
        if (messages.length === 0) return;
        // ioredis writes a string argument as its UTF-8 bytes: the stored text goes out as it is.
        await append(
          topic,
          messages.map((message) => message.json),
          publishOptions,
        );
      },
    }),

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
