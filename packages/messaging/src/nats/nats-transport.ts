import { abortable, delay, exponential, InvalidOptionsError, systemClock, within } from '@bulwark/resilience';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { headers, type NatsConnection, RequestError } from '@nats-io/transport-node';
import { jsonSerializer, serializeToPublish } from '../envelope/serializer.js';
import { assertKeys, assertPublishable } from '../envelope/storable-values.js';
import { MessagingError } from '../errors/messaging-error.js';
import { emitWarningFor } from '../errors/warning-reporter.js';
import { tracePublish } from '../telemetry/message-spans.js';
import type { BrokerTransport } from '../transport/broker-transport.js';
import { ConnectionHealthTracker } from '../transport/connection-health.js';
import type { Subscription, Transport, TransportCapabilities } from '../transport/transport.js';
import { TransportClosedError, UnroutableMessageError } from '../transport/transport-errors.js';
import {
  messageIdHeader,
  notBeforeHeader,
  startDelayMover,
  targetSubjectHeader,
  targetTopicHeader,
} from './nats-delay-mover.js';
import { type OutgoingNatsMessage, publishToStream } from './nats-publish.js';
import { delayedConsumerName, delayedSubject, groupConsumerName, topicSubject } from './nats-subjects.js';
import { startNatsSubscription } from './nats-subscription.js';
import {
  type NatsTransportOptions,
  natsTransportDefaults,
  validateNatsTransportOptions,
} from './nats-transport-options.js';
import {
  streamCannotReadItsMessages,
  type UndeliveredStall,
  type UndeliveredWatch,
  watchUndelivered,
} from './nats-undelivered-watch.js';

/** A consumer group of the NATS transport, from {@link NatsTransport.snapshot}. */
export interface NatsGroupSnapshot {
  readonly topic: string;
  readonly group: string;
  /** The group's durable consumer on the stream. */
  readonly consumer: string;
  /** Messages of the topic the group has not been handed yet. */
  readonly pending: number;
  /** Deliveries handed out and not yet acked (including those waiting out a nack delay). */
  readonly unacked: number;
  /**
   * Set while a subscription of this transport finds the group's consumer holding messages it
   * delivers to no one (see `undeliveredWarningMs`): since when (the transport's clock, ms).
   */
  readonly undeliveredSince?: number;
}

/**
 * The NATS JetStream {@link BrokerTransport}. `declareGroup` creates the group's durable consumer,
 * which receives what is published from then on; `snapshot` covers the groups this transport
 * subscribed to or declared; `health()` follows the connection: `degraded` from a disconnect, a
 * failed publish or pull until the connection is back or a call succeeds.
 */
export interface NatsTransport extends BrokerTransport<NatsGroupSnapshot> {}

/** The NATS JetStream transport's capabilities. */
export const natsCapabilities: TransportCapabilities = Object.freeze({
  // A file-storage stream with acknowledged publishes; consumers are durable.
  persistent: true,
  // One durable pull consumer per (topic, group): groups fan out, members of a group compete.
  consumerGroups: true,
  // A consumer hands out its topic in stream order; one subscriber with prefetch 1 sees publish
  // order (redeliveries aside). JetStream cannot hold one key back while others flow (no per-key).
  ordering: 'per-topic',
  // `nak(delay)` for nacks; delayed publishes wait on a delayed subject until a transport moves them.
  delayedDelivery: true,
  // The consumer's ack_wait redelivers a delivery left unacked, even while its subscriber lives.
  visibilityTimeout: true,
  // The server counts every delivery of a message to the consumer (num_delivered).
  deliveryCount: true,
  // Interest retention drops what no consumer covers, and the server still acknowledges it: a
  // publish first checks that the topic has a group and rejects with UnroutableMessageError if not.
  unroutable: 'rejected',
});

/** The server's JetStream API answered with an error code. */
export const isApiError = (error: unknown, code: number): boolean =>
  error instanceof JetStreamApiError && error.code === code;
/** A request no one answered: no stream takes the subject (deleted, or not made yet). */
const isNoResponders = (error: unknown): boolean => error instanceof RequestError && error.isNoResponders();
const consumerNotFound = 10014;
const streamNotFound = 10059;
/**
 * How long a transport that saw its stream deleted waits before it creates the stream again.
 * nats-server 2.9 deletes a stream in this order: it forgets the stream's name (a create of that
 * name succeeds from then on), deletes its consumers (their waiting pulls get `409 Consumer
 * Deleted`, which is how subscriptions learn of it), and only then removes the stream's directory,
 * the very path a new stream of that name writes to. A stream made again in between loses its
 * files: its publishes are acknowledged and never delivered (the server logs "error looking up
 * message for consumer ... no such file or directory"). The removal takes milliseconds; this wait
 * leaves it a wide margin.
 */
const deletedStreamSettleMs = 1_000;

/**
 * A {@link Transport} on NATS JetStream through the official client (`@nats-io/jetstream` and
 * `@nats-io/transport-node`, optional peer dependencies), `@bulwark/messaging/nats`.
 *
 * - Topology: one stream (`stream`, interest retention, file storage) captures
 *   `<subjectPrefix>.>`; a topic is a subject of it and each (topic, group) a durable pull consumer
 *   filtered on that subject, created by `subscribe` or `declareGroup` (deliver policy `new`: a
 *   group gets what is published once it exists). A message leaves the stream once every group
 *   acked it.
 * - Publishing: each message is stored with a `Nats-Msg-Id` derived from its topic and id, so a
 *   publish sent again (after a lost acknowledgement, or by an outbox relay after a crash) within
 *   `duplicateWindowMs` is stored once; `publish` resolves once the stream acknowledged every message.
 *   A topic with no group is refused with {@link UnroutableMessageError} (an interest stream would
 *   acknowledge and drop it).
 * - Consuming: each subscription pulls at most `prefetch` unsettled deliveries; acks and nacks are
 *   JetStream's `ack` and `nak(delay)`; the delivery count is the server's. A delivery unsettled
 *   after `visibilityTimeoutMs` (ack_wait) is redelivered.
 * - Delayed publishes wait on `<subjectPrefix>._delayed` (a consumer of the same stream), and a
 *   transport that subscribes or published with a delay moves them to their topic when due
 *   (deduplicated by the same `Nats-Msg-Id`). At least one transport of the stream must run.
 * - Reconnection is the client's: connect with `maxReconnectAttempts: -1` so it never gives up.
 *   Subscriptions pull again as soon as the connection is back. The transport never closes the
 *   connection you pass.
 * - A stream deleted while transports run is created again, with their groups' consumers, 1 s
 *   after a transport sees it gone (publishes fail, typed, until then); what it held is lost.
 * - A group's consumer that holds messages and delivers none while a subscription pulls is
 *   reported (`UNDELIVERED_MESSAGES` through `onError`, `undeliveredSince` in `snapshot()`) after
 *   `undeliveredWarningMs`: nats-server 2.9 acknowledges publishes to a stream whose files are gone
 *   (a stream made again while the server still removed the old one, files deleted under it) and
 *   never delivers them. The transport does not repair it: deleting the stream and letting the
 *   transports create it again does (what it holds cannot be read and is lost).
 *
 * @example
 * ```ts
 * import { connect } from '@nats-io/transport-node';
 * import { natsTransport } from '@bulwark/messaging/nats';
 *
 * const connection = await connect({ servers: process.env.NATS_URL, maxReconnectAttempts: -1 });
 * const transport = natsTransport(connection);
 * await transport.subscribe('orders', 'billing', async ({ message }) => bill(message.payload));
 * await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload })]);
 * ```
 */
export function natsTransport(connection: NatsConnection, options: NatsTransportOptions = {}): NatsTransport {
  validateNatsTransportOptions(options);
  const settings = { ...natsTransportDefaults, ...withoutUndefined(options) };
  const serializer = options.serializer ?? jsonSerializer;
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? emitWarningFor('natsTransport');
  const report = (code: string, message: string, cause?: unknown) => {
    try {
      onError(new MessagingError(code, message, { cause }));
    } catch {
      // A throwing error listener must not break the transport.
    }
  };
  const retryBackoff = exponential({ initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs });
  // No jitter: `random` is never read.
  const backoffMs = (failures: number) =>
    retryBackoff.delayMs({ attempt: failures + 1, previousDelayMs: 0, random: () => 0 });
  const health = new ConnectionHealthTracker(clock);
  const timedOut = (what: string) => () =>
    new MessagingError(
      'SERVER_TIMEOUT',
      `The NATS server did not answer ${what} within ${settings.operationTimeoutMs} ms`,
    );
  /** Bounds a server call by `operationTimeoutMs` and `signal`. */
  const bounded = <T>(what: string, call: Promise<T>, signal?: AbortSignal): Promise<T> =>
    abortable(within(clock, call, settings.operationTimeoutMs, timedOut(what)), signal);

  const js: JetStreamClient = jetstream(connection, { timeout: settings.operationTimeoutMs });
  let manager: Promise<JetStreamManager> | undefined;
  const jsm = (): Promise<JetStreamManager> => {
    // `jetstreamManager` asks the server for account info: retried on the next call when it fails.
    manager ??= jetstreamManager(connection, { timeout: settings.operationTimeoutMs, checkAPI: false });
    manager.catch(() => {
      manager = undefined;
    });
    return manager;
  };

  const stopping = new AbortController();
  let closed = false;
  const watchStatus = async () => {
    const statuses = connection.status();
    stopping.signal.addEventListener('abort', () => (statuses as { stop?: () => void }).stop?.(), { once: true });
    for await (const status of statuses) {
      if (stopping.signal.aborted) break;
      if (status.type === 'disconnect') health.failed(new Error('The NATS connection was lost'));
      else if (status.type === 'reconnect') {
        health.succeeded();
        for (const listener of reconnectListeners) listener();
      } else if (status.type === 'error') health.failed(status.error);
      else if (status.type === 'close') health.failed(new Error('The NATS connection is closed'));
    }
  };
  const reconnectListeners = new Set<() => void>();
  const onReconnect = (listener: () => void) => {
    reconnectListeners.add(listener);
    return () => reconnectListeners.delete(listener);
  };
  void watchStatus().catch((error: unknown) => report('STATUS_FAILED', 'Watching the NATS connection failed', error));

  let streamReady: Promise<void> | undefined;
  /** This transport found or made the stream: missing later, it was deleted. */
  let streamSeen = false;
  const streamExists = async (manager: JetStreamManager): Promise<boolean> => {
    try {
      await bounded('a stream info request', manager.streams.info(settings.stream));
      return true;
    } catch (error) {
      if (isApiError(error, streamNotFound)) return false;
      throw error;
    }
  };
  /** Creates the stream when missing; once per transport, again after a failure. */
  const ensureStream = (signal?: AbortSignal): Promise<void> => {
    streamReady ??= (async () => {
      const manager = await bounded('the JetStream account request', jsm());
      if (await streamExists(manager)) {
        streamSeen = true;
        return;
      }
      if (streamSeen) {
        // Its deletion may still be under way: see deletedStreamSettleMs.
        await delay(clock, deletedStreamSettleMs, stopping.signal);
        if (await streamExists(manager)) return;
      }
      await bounded(
        'a stream create request',
        manager.streams.add({
          name: settings.stream,
          subjects: [`${settings.subjectPrefix}.>`],
          retention: RetentionPolicy.Interest,
          storage: StorageType.File,
          num_replicas: settings.replicas,
          duplicate_window: settings.duplicateWindowMs * 1_000_000,
          description: 'Bulwark messaging: one subject per topic, one durable consumer per group',
        }),
      ).catch(async (added: unknown) => {
        // Another process created it meanwhile: fine if it is there now.
        await manager.streams.info(settings.stream).catch(() => {
          throw added;
        });
      });
      streamSeen = true;
    })();
    streamReady.catch(() => {
      streamReady = undefined;
    });
    return abortable(streamReady, signal);
  };

  /** Topics known to have a group: groups are never deleted by the transport, so this only grows. */
  const routed = new Set<string>();
  const knownGroups = new Map<string, { topic: string; group: string }>();

  /** Creates a durable consumer if it is missing (same name from every process). */
  const ensureConsumer = async (name: string, filterSubject: string, description: string, signal?: AbortSignal) => {
    await ensureStream(signal);
    const manager = await bounded('the JetStream account request', jsm(), signal);
    const ackWait = settings.visibilityTimeoutMs * 1_000_000;
    try {
      const info = await bounded('a consumer info request', manager.consumers.info(settings.stream, name), signal);
      // The last process to start with another visibilityTimeoutMs sets it for the whole group.
      if (info.config.ack_wait !== ackWait) {
        await bounded(
          'a consumer update request',
          manager.consumers.update(settings.stream, name, { ack_wait: ackWait }),
          signal,
        );
      }
      return;
    } catch (error) {
      if (isApiError(error, streamNotFound)) {
        streamReady = undefined;
        await ensureStream(signal);
      } else if (!isApiError(error, consumerNotFound)) throw error;
    }
    await bounded(
      'a consumer create request',
      manager.consumers.add(settings.stream, {
        durable_name: name,
        description,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: filterSubject,
        ack_wait: ackWait,
        // The consumer dead-letters; the transport never gives up on a message by itself.
        max_deliver: -1,
        // Nacked deliveries waiting out their delay count as pending: no group-wide cap to stall on.
        max_ack_pending: -1,
      }),
      signal,
    ).catch(async (added: unknown) => {
      // Another process created it meanwhile.
      await manager.consumers.info(settings.stream, name).catch(() => {
        throw added;
      });
    });
  };

  /** The watches of this transport's subscriptions, by group consumer (for snapshot). */
  const watches = new Map<string, Set<UndeliveredWatch>>();
  const undeliveredSince = (consumer: string): number | undefined => {
    let since: number | undefined;
    for (const watch of watches.get(consumer) ?? []) {
      const stalled = watch.stalled?.since;
      if (stalled !== undefined && (since === undefined || stalled < since)) since = stalled;
    }
    return since;
  };
  const reportUndelivered = async (topic: string, group: string, consumer: string, stall: UndeliveredStall) => {
    // Only to word the report: a server that does not answer leaves it unsure, not silent.
    const unreadable = await bounded(
      'a stream message request',
      jsm().then((manager) => streamCannotReadItsMessages(manager, settings.stream)),
    ).catch(() => false);
    const seconds = Math.round((clock.now() - stall.since) / 1000);
    report(
      'UNDELIVERED_MESSAGES',
      `Group ${group} of ${topic}: its consumer ${consumer} holds ${stall.pending} message(s) and delivered none ` +
        `for ${seconds} s while this subscription pulled; ` +
        (unreadable
          ? `the stream ${settings.stream} cannot read its messages (its files are gone): they are lost, and so is what is published to it until it is deleted. `
          : `the server may have lost the stream's files (its log says 'error looking up message for consumer'). `) +
        `Deleting the stream ${settings.stream} lets the transports create it again, without what it held`,
    );
  };

  const ensureGroup = async (topic: string, group: string, signal?: AbortSignal) => {
    const name = groupConsumerName(topic, group);
    await ensureConsumer(name, topicSubject(settings.subjectPrefix, topic), `${topic} / ${group}`, signal);
    routed.add(topic);
    knownGroups.set(name, { topic, group });
    return name;
  };

  /** Whether any group (of any process) receives `topic`: a consumer of the stream filtered on its subject. */
  const hasGroup = async (topic: string, signal?: AbortSignal): Promise<boolean> => {
    if (routed.has(topic)) return true;
    await ensureStream(signal);
    const manager = await bounded('the JetStream account request', jsm(), signal);
    const subject = topicSubject(settings.subjectPrefix, topic);
    const found = await bounded(
      'a consumer list request',
      (async () => {
        for await (const info of manager.consumers.list(settings.stream)) {
          if (info.config.filter_subject === subject) return true;
        }
        return false;
      })(),
      signal,
    );
    if (found) routed.add(topic);
    return found;
  };

  let mover: { stop(): Promise<void> } | undefined;
  let moverStarting: Promise<void> | undefined;
  /** Starts moving due delayed publishes of the stream (shared with every other transport of it). */
  const ensureMover = (signal?: AbortSignal): Promise<void> => {
    moverStarting ??= (async () => {
      await ensureConsumer(
        delayedConsumerName,
        delayedSubject(settings.subjectPrefix),
        'Bulwark delayed publishes',
        signal,
      );
      if (closed) return;
      mover = startDelayMover({
        js,
        stream: settings.stream,
        clock,
        backoffMs,
        pullExpiresMs: settings.pullExpiresMs,
        report,
        health,
        operationTimeoutMs: settings.operationTimeoutMs,
        recreate: () =>
          ensureConsumer(delayedConsumerName, delayedSubject(settings.subjectPrefix), 'Bulwark delayed publishes'),
      });
    })();
    moverStarting.catch(() => {
      moverStarting = undefined;
    });
    return moverStarting;
  };

  const subscriptions = new Set<Subscription>();

  const transport: NatsTransport = {
    name: 'nats',
    capabilities: natsCapabilities,
    health() {
      if (connection.isClosed()) return { status: 'degraded', lastError: 'The NATS connection is closed' };
      return health.health;
    },

    async publish(topic, messages, publishOptions) {
      const signal = publishOptions?.signal;
      signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('nats');
      assertPublishable(topic, messages);
      if (messages.length === 0) return;
      try {
        // Checked without a turn of the event loop once known (every publish after the first).
        if (!routed.has(topic) && !(await hasGroup(topic, signal)))
          throw new UnroutableMessageError('nats', topic, messages.length);
        const delayMs = Math.max(0, Math.ceil(publishOptions?.delayMs ?? 0));
        const subject = topicSubject(settings.subjectPrefix, topic);
        let outgoing: OutgoingNatsMessage[];
        if (delayMs === 0) {
          outgoing = messages.map((message) => ({ subject, message, body: serializeToPublish(serializer, message) }));
        } else {
          await ensureMover(signal);
          const due = String(clock.now() + delayMs);
          outgoing = messages.map((message) => {
            const extra = headers();
            extra.set(targetSubjectHeader, subject);
            extra.set(targetTopicHeader, Buffer.from(topic, 'utf8').toString('base64url'));
            extra.set(notBeforeHeader, due);
            extra.set(messageIdHeader, Buffer.from(message.id, 'utf8').toString('base64url'));
            const body = serializeToPublish(serializer, message);
            return { subject: delayedSubject(settings.subjectPrefix), message, body, headers: extra };
          });
        }
        await publishToStream({
          js,
          stream: settings.stream,
          topic: delayMs === 0 ? topic : `${topic}\u0000delayed:${delayMs}`,
          outgoing,
          contentType: serializer.contentType,
          attempts: settings.publishAttempts,
          timeoutMs: settings.operationTimeoutMs,
          clock,
          backoffMs,
          onReconnect,
          ...(signal ? { signal } : {}),
        });
        health.succeeded();
      } catch (error) {
        if (error instanceof MessagingError && isNoResponders(error.cause)) {
          // No stream takes the subject (it was deleted): check for it and its groups again next time.
          streamReady = undefined;
          routed.clear();
        }
        if (!(error instanceof MessagingError) || error.code === 'PUBLISH_FAILED' || error.code === 'SERVER_TIMEOUT')
          health.failed(error);
        if (error instanceof MessagingError || signal?.aborted) throw error;
        throw new MessagingError('PUBLISH_FAILED', `Publishing ${messages.length} message(s) to ${topic} failed`, {
          cause: error,
        });
      }
    },

    async subscribe(topic, group, handler, subscribeOptions) {
      const signal = subscribeOptions?.signal;
      signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('nats');
      assertKeys({ topic, group });
      const prefetch = subscribeOptions?.prefetch ?? settings.prefetch;
      if (!Number.isInteger(prefetch) || prefetch <= 0)
        throw new InvalidOptionsError('subscribe', [`prefetch must be a positive integer, got ${prefetch}`]);
      const consumerName = await ensureGroup(topic, group, signal);
      // Delayed publishes need a mover; every transport with subscribers runs one.
      await ensureMover(signal).catch((error: unknown) =>
        report('DELAY_MOVER_FAILED', 'Starting the mover of delayed publishes failed; retried on the next call', error),
      );
      if (closed) throw new TransportClosedError('nats');
      const watch = watchUndelivered({
        clock,
        thresholdMs: settings.undeliveredWarningMs,
        progress: async () => {
          const manager = await bounded('the JetStream account request', jsm());
          const info = await bounded('a consumer info request', manager.consumers.info(settings.stream, consumerName));
          return { pending: info.num_pending, deliveredSeq: info.delivered.stream_seq };
        },
        onStalled: (stall) => void reportUndelivered(topic, group, consumerName, stall),
      });
      const groupWatches = watches.get(consumerName) ?? new Set<UndeliveredWatch>();
      watches.set(consumerName, groupWatches.add(watch));
      const subscription = startNatsSubscription({
        js,
        stream: settings.stream,
        consumerName,
        topic,
        group,
        handler,
        prefetch,
        serializer,
        clock,
        backoffMs,
        pullExpiresMs: settings.pullExpiresMs,
        visibilityTimeoutMs: settings.visibilityTimeoutMs,
        closeDeadlineMs: natsTransportDefaults.closeDeadlineMs,
        report,
        health,
        watch,
        recreate: () => ensureGroup(topic, group).then(() => {}),
        onPullFailed: () => routed.delete(topic),
        onClosed: () => {
          subscriptions.delete(subscription);
          groupWatches.delete(watch);
        },
      });
      subscriptions.add(subscription);
      signal?.addEventListener('abort', () => void subscription.close({ deadlineMs: 0 }), { once: true });
      return subscription;
    },

    async declareGroup(topic, group, declareOptions) {
      declareOptions?.signal?.throwIfAborted();
      if (closed) throw new TransportClosedError('nats');
      assertKeys({ topic, group });
      await ensureGroup(topic, group, declareOptions?.signal);
    },

    async snapshot(snapshotOptions) {
      const manager = await bounded('the JetStream account request', jsm(), snapshotOptions?.signal);
      const snapshots: NatsGroupSnapshot[] = [];
      for (const [consumer, { topic, group }] of knownGroups) {
        const info = await bounded(
          'a consumer info request',
          manager.consumers.info(settings.stream, consumer),
          snapshotOptions?.signal,
        ).catch(() => undefined); // deleted meanwhile: nothing to report
        if (!info) continue;
        const since = undeliveredSince(consumer);
        snapshots.push({
          topic,
          group,
          consumer,
          pending: info.num_pending,
          unacked: info.num_ack_pending,
          ...(since === undefined ? {} : { undeliveredSince: since }),
        });
      }
      return snapshots;
    },

    async close(closeOptions) {
      closed = true;
      await Promise.all([...subscriptions].map((subscription) => subscription.close(closeOptions)));
      await moverStarting?.catch(() => {});
      await mover?.stop();
      stopping.abort();
      reconnectListeners.clear();
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };

  return tracePublish(transport, clock);
}

/** Drops the keys whose value is `undefined`, so the defaults apply to them. */
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
