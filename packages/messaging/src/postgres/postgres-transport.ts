import { abortable, InvalidOptionsError, OptionsValidator, systemClock } from '@bulwark/resilience';
import { migrateUnderLock } from '@bulwark/resilience/internal/postgres';
import type { Pool } from 'pg';
import type { Envelope } from '../envelope/envelope.js';
import { jsonSerializer, serializeToPublish } from '../envelope/serializer.js';
import { assertKeys, assertPublishable } from '../envelope/storable-values.js';
import { emitWarningFor } from '../errors/warning-reporter.js';
import { tracePublish } from '../telemetry/message-spans.js';
import type { BrokerTransport } from '../transport/broker-transport.js';
import { ConnectionHealthTracker } from '../transport/connection-health.js';
import { asError } from '../transport/in-flight.js';
import {
  type CloseSubscriptionOptions,
  type DeliveryHandler,
  orderingKeyOf,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
} from '../transport/transport.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import { PublishBatcher } from './postgres-publish-batcher.js';
import { SettleBatcher } from './postgres-settle-batcher.js';
import { checkQueryTimeout, statementRunner } from './postgres-store-error.js';
import { type PostgresSubscription, startPostgresSubscription } from './postgres-subscription.js';
import { transportListener } from './postgres-transport-listener.js';
import { type PostgresTransportOptions, postgresTransportDefaults } from './postgres-transport-options.js';
import { type PostgresTransportSql, postgresTransportSql } from './postgres-transport-sql.js';
import { isSqlIdentifier, tableName } from './table-name.js';

/** Depth of one consumer group, from {@link PostgresTransport.snapshot}. */
export interface PostgresGroupSnapshot {
  readonly topic: string;
  /** The group; `''` for messages held for a topic that has no group yet. */
  readonly group: string;
  /** Claimable now. */
  readonly ready: number;
  /** Held by a subscriber, or delayed. */
  readonly invisible: number;
  /** Age of the oldest row in ms (0 when empty). */
  readonly oldestMs: number;
}

/**
 * The PostgreSQL {@link BrokerTransport}, with `migrate()`. `health()` is `degraded` from the first
 * failed claim, ack or publish, or the loss of the LISTEN connection, until the next claim succeeds
 * with the LISTEN connection (when used) back.
 */
export interface PostgresTransport extends BrokerTransport<PostgresGroupSnapshot> {
  /** Creates the tables if missing; safe to run at every start, from several instances at once. */
  migrate(options?: { signal?: AbortSignal }): Promise<void>;
  /** The statements used, rendered for the configured tables. */
  readonly sql: PostgresTransportSql;
}

const capabilities: TransportCapabilities = Object.freeze({
  persistent: true,
  consumerGroups: true,
  ordering: 'per-key',
  delayedDelivery: true,
  visibilityTimeout: true,
  deliveryCount: true,
  // A message for a topic without a group is kept as a held row (group '') and handed to the
  // topic's groups when the first one is declared or subscribes.
  unroutable: 'held',
});

/**
 * The PostgreSQL {@link Transport} over the user's `pg` Pool (never closed by the transport).
 *
 * - One table row per message per consumer group; subscribers claim rows with
 *   `FOR UPDATE SKIP LOCKED`, hiding them for the visibility timeout, and ack by deleting them.
 *   A subscriber that dies leaves its rows to reappear when the timeout runs out.
 * - Publish sends a `NOTIFY`; one `LISTEN` connection per transport (taken from the pool on the
 *   first subscribe, released on close, re-established after a drop) wakes idle subscribers.
 *   Polling every `pollIntervalMs` is the fallback and finds delayed and expired rows.
 * - Per-key order (`groupId ?? key`): one message of a key out at a time, in publish order.
 * - A message published to a topic with no group is held (a row with the group `''`) and handed
 *   to the topic's groups when the first one is declared or subscribes
 *   (`capabilities.unroutable: 'held'`); `snapshot()` lists held messages under the group `''`.
 * - Time is the database's `now()`, so instances with skewed clocks agree on visibility.
 *
 * Give the pool an `error` listener (`pool.on('error', …)`): pg emits one when an idle client
 * loses its connection, and a process without a listener crashes.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { postgresTransport } from '@bulwark/messaging/postgres';
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * pool.on('error', (error) => log.warn(error));
 * const transport = postgresTransport(pool);
 * await transport.migrate();
 * ```
 */
export function postgresTransport(pool: Pool, options: PostgresTransportOptions = {}): PostgresTransport {
  const sql = postgresTransportSql({ table: options.table, groupsTable: options.groupsTable });
  const channel =
    options.channel ?? `${tableName('postgresTransport', options.table ?? postgresTransportDefaults.table).name}_wake`;
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? postgresTransportDefaults.visibilityTimeoutMs;
  const pollIntervalMs = options.pollIntervalMs ?? postgresTransportDefaults.pollIntervalMs;
  const listen = options.listen ?? true;
  const serializer = options.serializer ?? jsonSerializer;
  const clock = options.clock ?? systemClock;
  const health = new ConnectionHealthTracker(clock);
  const onError = options.onError ?? emitWarningFor('postgresTransport');
  const reportError = (error: unknown) => {
    try {
      onError(asError(error));
    } catch {
      // A throwing error listener must not break the transport.
    }
  };
  /** A failure of the server or the connection: reported, and the transport is degraded until the next good claim. */
  const reportFailure = (error: unknown) => {
    health.failed(error);
    reportError(error);
  };
  const queryTimeoutMs = options.queryTimeoutMs ?? postgresTransportDefaults.queryTimeoutMs;
  const validator = new OptionsValidator('postgresTransport');
  checkQueryTimeout(queryTimeoutMs, validator);
  if (!(visibilityTimeoutMs > 0 && Number.isFinite(visibilityTimeoutMs))) {
    validator.report(`visibilityTimeoutMs must be a finite number > 0, got ${visibilityTimeoutMs}`);
  }
  if (!(pollIntervalMs > 0)) validator.report(`pollIntervalMs must be > 0, got ${pollIntervalMs}`);
  if (!isSqlIdentifier(channel)) validator.report(`channel must be an identifier, got "${channel}"`);
  validator.throwIfInvalid();

  let closed = false;
  const lifetime = new AbortController();
  const subscriptions = new Set<PostgresSubscription>();
  const commitMode = options.synchronousSettlement ? 'on' : 'off';
  const query = statementRunner(pool, 'postgresTransport', { timeoutMs: queryTimeoutMs, clock, prepared: true });
  const acks = new SettleBatcher(query, 'ack', sql.ack, [commitMode]);
  const releases = new SettleBatcher(query, 'nack', sql.nack, [0, commitMode]);
  const notifyInPublish = listen && (options.notifyInPublish ?? false);
  const publishes = new PublishBatcher(query, sql, notifyInPublish ? channel : undefined, (topics, notified) => {
    for (const topic of topics) wake(topic, notified);
  });

  const wakeAll = (topic?: string) => {
    for (const subscription of subscriptions)
      if (topic === undefined || subscription.topic === topic) subscription.wake();
  };
  const listener = transportListener({
    pool,
    channel,
    clock,
    queryTimeoutMs,
    lifetime: lifetime.signal,
    reportFailure,
    wakeAll,
  });

  const assertOpen = () => {
    if (closed) throw new TransportClosedError('postgres');
  };

  // Wake-ups after a publish: this transport's own subscribers at once, other processes through
  // the publish's own NOTIFY or one NOTIFY per topic per tick (publishes in the same tick share it).
  const topicsToNotify = new Set<string>();
  const wake = (topic: string, notified: boolean) => {
    wakeAll(topic);
    if (!listen || notified) return;
    if (topicsToNotify.size === 0) {
      setImmediate(() => {
        const topics = [...topicsToNotify];
        topicsToNotify.clear();
        query('notify', sql.notify, [channel, topics]).catch(reportFailure);
      });
    }
    topicsToNotify.add(topic);
  };

  /** Creates a group, then hands it (and the topic's other groups) what was held for the topic. */
  const createGroup = async (topic: string, group: string, signal?: AbortSignal) => {
    if (group === '') {
      throw new InvalidOptionsError('postgresTransport', ["group must be a non-empty string ('' marks held messages)"]);
    }
    await query('declareGroup', sql.declareGroup, [topic, group], signal);
    await query('adoptHeld', sql.adoptHeld, [topic], signal);
  };

  const transport: PostgresTransport = {
    name: 'postgres',
    capabilities,
    sql,

    async migrate(migrateOptions) {
      await migrateUnderLock(pool, 'bulwark:postgresTransport:migrate', sql.migrate, migrateOptions);
    },

    async declareGroup(topic, group, declareOptions = {}) {
      declareOptions.signal?.throwIfAborted();
      assertOpen();
      await createGroup(topic, group, declareOptions.signal);
    },

    health: () => health.health,

    async snapshot(snapshotOptions = {}) {
      snapshotOptions.signal?.throwIfAborted();
      const result = await query<{
        topic: string;
        group_name: string;
        ready: number;
        invisible: number;
        oldest_ms: number;
      }>('snapshot', sql.stats, [], snapshotOptions.signal);
      return result.rows.map((row) => ({
        topic: row.topic,
        group: row.group_name,
        ready: row.ready,
        invisible: row.invisible,
        oldestMs: row.oldest_ms,
      }));
    },

    async publish(topic: string, messages: readonly Envelope[], publishOptions: PublishOptions = {}) {
      publishOptions.signal?.throwIfAborted();
      assertOpen();
      assertPublishable(topic, messages);
      if (messages.length === 0) return;
      const delayMs = Math.max(0, publishOptions.delayMs ?? 0);
      // Serialize first, so a bad message rejects this call alone, before it joins a batch.
      const rows = messages.map((message) => ({
        topic,
        id: message.id,
        key: orderingKeyOf(message) ?? null,
        body: serializeToPublish(serializer, message),
        delayMs,
      }));
      // The batch's statement is bounded by queryTimeoutMs; the caller may stop waiting sooner.
      await abortable(publishes.add(rows, publishOptions.signal), publishOptions.signal);
    },

    async subscribe(topic: string, group: string, handler: DeliveryHandler, subscribeOptions: SubscribeOptions = {}) {
      subscribeOptions.signal?.throwIfAborted();
      assertOpen();
      assertKeys({ topic, group });
      const prefetch = subscribeOptions.prefetch ?? postgresTransportDefaults.prefetch;
      if (!(Number.isInteger(prefetch) && prefetch > 0)) {
        throw new InvalidOptionsError('subscribe', [`prefetch must be a positive integer, got ${prefetch}`]);
      }
      await createGroup(topic, group, subscribeOptions.signal);
      if (listen) listener.start();

      const entry = startPostgresSubscription({
        topic,
        group,
        handler,
        prefetch,
        query,
        sql,
        acks,
        releases,
        commitMode,
        visibilityTimeoutMs,
        pollIntervalMs,
        serializer,
        clock,
        health,
        wakeUpsWork: () => !listen || listener.connected,
        reportFailure,
        reportError,
        onClosed: async (closedSubscription) => {
          subscriptions.delete(closedSubscription);
          if (subscriptions.size === 0 && closed) await listener.stop();
        },
      });
      subscriptions.add(entry);
      const subscription: Subscription = {
        topic,
        group,
        close: entry.close,
        [Symbol.asyncDispose]: () => entry.close(),
      };
      subscribeOptions.signal?.addEventListener('abort', () => void entry.close({ deadlineMs: 0 }), { once: true });
      return subscription;
    },

    async close(closeOptions?: CloseSubscriptionOptions) {
      if (!closed) {
        closed = true;
        lifetime.abort();
      }
      await Promise.all([...subscriptions].map((subscription) => subscription.close(closeOptions)));
      await listener.stop();
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };
  return tracePublish(transport, clock);
}
