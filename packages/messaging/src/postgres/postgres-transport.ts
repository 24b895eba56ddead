import {
  abortable,
  type Clock,
  delay,
  exponential,
  InvalidOptionsError,
  OptionsValidator,
  systemClock,
  type TimerHandle,
} from '@bulwark/resilience';
import { migrateUnderLock, withClient } from '@bulwark/resilience/postgres';
import type { Notification, Pool, PoolClient, QueryConfig } from 'pg';
import type { Envelope } from '../envelope/envelope.js';
import { jsonSerializer, type Serializer } from '../envelope/serializer.js';
import { assertKeys, assertPublishable } from '../envelope/storable-values.js';
import { MessagingError } from '../errors/messaging-error.js';
import { emitWarningFor } from '../errors/warning-reporter.js';
import { tracePublish } from '../telemetry/message-spans.js';
import { type ConnectionHealth, ConnectionHealthTracker } from '../transport/connection-health.js';
import { asError, settledWithin } from '../transport/in-flight.js';
import {
  type CloseSubscriptionOptions,
  type Delivery,
  type DeliveryHandler,
  orderingKeyOf,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
} from '../transport/transport.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import {
  checkQueryTimeout,
  defaultQueryTimeoutMs,
  isStatementRejected,
  type PostgresStatementRunner,
  statementRunner,
} from './postgres-store-error.js';
import ackSql from './sql/transport-ack.sql';
import adoptHeldSql from './sql/transport-adopt-held.sql';
import claimSql from './sql/transport-claim.sql';
import declareGroupSql from './sql/transport-declare-group.sql';
import migrateSql from './sql/transport-migrate.sql';
import nackSql from './sql/transport-nack.sql';
import notifySql from './sql/transport-notify.sql';
import publishSql from './sql/transport-publish.sql';
import statsSql from './sql/transport-stats.sql';
import unblockSql from './sql/transport-unblock.sql';
import { isSqlIdentifier, tableName } from './table-name.js';

/** Options of {@link postgresTransport}. */
export interface PostgresTransportOptions {
  /** The message table, optionally schema-qualified (`app.messages`). @defaultValue `'bulwark_messages'` */
  table?: string;
  /** The consumer group table. @defaultValue `` `${table}_groups` `` */
  groupsTable?: string;
  /** The LISTEN/NOTIFY channel that wakes subscribers. @defaultValue `` `${table name}_wake` `` */
  channel?: string;
  /**
   * A claimed message not acked within this is claimed again by any subscriber of its group
   * (the holder presumably died). Must exceed the longest handling, retries included.
   * @defaultValue 30_000
   */
  visibilityTimeoutMs?: number;
  /**
   * How often an idle subscription looks for work without a notification: the fallback when
   * NOTIFY is lost (listener reconnecting) and how delayed or expired messages are found.
   * @defaultValue 1_000
   */
  pollIntervalMs?: number;
  /**
   * Commit claims, acks and nacks with `synchronous_commit = on`. By default they commit
   * asynchronously (publishing never does): a server crash may then forget an ack or a claim
   * made in its last few hundred ms, so that message is delivered once more — allowed by
   * at-least-once and absorbed by the consumer's inbox — and each settlement saves a WAL fsync.
   * @defaultValue false
   */
  synchronousSettlement?: boolean;
  /** Use a LISTEN connection (one per transport, taken from the pool) to wake subscribers. @defaultValue true */
  listen?: boolean;
  /**
   * The longest one statement (publish, claim, ack…) may take, taking a pool connection
   * included: past it a publish rejects with `PostgresStoreError` (`POSTGRES_TIMEOUT`), and a
   * background claim or ack is retried with backoff; a connection that went silent is destroyed
   * rather than reused. Failures of the server or the connection reject with `POSTGRES_FAILED`.
   * Give the pool `connectionTimeoutMillis` too, so a connect to a silent server frees its slot.
   * @defaultValue 5_000
   */
  queryTimeoutMs?: number;
  /** @defaultValue `jsonSerializer` */
  serializer?: Serializer;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * Errors met in the background (a claim, an ack or the listener failing while the server is
   * away). The transport retries on its own; this is for logs and metrics.
   * @defaultValue emits a process warning (`process.emitWarning`, type `BulwarkWarning`, code
   * `BULWARK_BACKGROUND_ERROR`); pass a function to send them to your logger instead
   */
  onError?: (error: Error) => void;
}

/** The defaults of {@link PostgresTransportOptions}. */
export const postgresTransportDefaults = {
  table: 'bulwark_messages',
  visibilityTimeoutMs: 30_000,
  pollIntervalMs: 1_000,
  prefetch: 10,
  closeDeadlineMs: 30_000,
  queryTimeoutMs: defaultQueryTimeoutMs,
  /** First wait before retrying a failed claim or listener connection; doubles up to `maxRetryDelayMs`. */
  retryDelayMs: 100,
  maxRetryDelayMs: 5_000,
  /** How often the idle LISTEN connection is proven alive (`SELECT 1`, bounded by `queryTimeoutMs`). */
  listenerHeartbeatMs: 5_000,
} as const;

/** Waits between tries of a failed claim or LISTEN connection. */
const reconnectBackoff = exponential({
  initialMs: postgresTransportDefaults.retryDelayMs,
  maxMs: postgresTransportDefaults.maxRetryDelayMs,
});
/** The wait after the `attempt`-th failure in a row (no jitter: `random` is never read). */
const retryDelayAfter = (attempt: number) => reconnectBackoff.delayMs({ attempt, previousDelayMs: 0, random: () => 0 });

/** The SQL of the PostgreSQL transport, rendered for one table. */
export interface PostgresTransportSql {
  /** Creates the tables and indexes if missing (for your own migration tool). */
  readonly migrate: string;
  readonly declareGroup: string;
  readonly adoptHeld: string;
  readonly publish: string;
  readonly claim: string;
  readonly ack: string;
  readonly nack: string;
  readonly notify: string;
  readonly unblock: string;
  readonly stats: string;
}

/**
 * The statements of {@link postgresTransport} for a table, so teams with their own migration tool
 * can apply `migrate` themselves.
 *
 * @example
 * ```ts
 * writeFileSync('migrations/008_messages.sql', postgresTransportSql({ table: 'app.messages' }).migrate);
 * ```
 */
export function postgresTransportSql(options: { table?: string; groupsTable?: string } = {}): PostgresTransportSql {
  const validator = new OptionsValidator('postgresTransport');
  const table = tableName('postgresTransport', options.table ?? postgresTransportDefaults.table, {
    problems: validator.problems,
  });
  const groups = tableName(
    'postgresTransport',
    options.groupsTable ?? `${options.table ?? postgresTransportDefaults.table}_groups`,
    { option: 'groupsTable', problems: validator.problems },
  );
  validator.throwIfInvalid();
  const render = (sql: string) =>
    sql
      .replaceAll('{{table}}', table.quoted)
      .replaceAll('{{groupsTable}}', groups.quoted)
      .replaceAll('{{claimIndex}}', `"${table.name}_claim_idx"`)
      .replaceAll('{{keyIndex}}', `"${table.name}_key_idx"`)
      .replaceAll('{{blockedIndex}}', `"${table.name}_blocked_idx"`);
  return {
    migrate: render(migrateSql),
    declareGroup: render(declareGroupSql),
    adoptHeld: render(adoptHeldSql),
    publish: render(publishSql),
    claim: render(claimSql),
    ack: render(ackSql),
    nack: render(nackSql),
    notify: render(notifySql),
    unblock: render(unblockSql),
    stats: render(statsSql),
  };
}

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

/** The PostgreSQL {@link Transport}, with `migrate()`, `declareGroup()`, `snapshot()` and `health()`. */
export interface PostgresTransport extends Transport {
  /**
   * `degraded` from the first failed claim, ack or publish, or the loss of the LISTEN connection,
   * until the next claim succeeds with the LISTEN connection (when used) back; no query is made.
   */
  health(): ConnectionHealth;
  /** Creates the tables if missing; safe to run at every start, from several instances at once. */
  migrate(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Creates a consumer group before anyone subscribes, so it receives what is published
   * meanwhile. Run it at deploy time when producers may start before consumers.
   */
  declareGroup(topic: string, group: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Per-group depths, for dashboards. */
  snapshot(options?: { signal?: AbortSignal }): Promise<PostgresGroupSnapshot[]>;
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

interface ClaimedRow {
  id: string;
  body: Buffer;
  delivery_count: number;
}

/** Resolves `wait()` when `wake()` is called or the time passes, whichever is first. */
class Waker {
  private resolveWait: (() => void) | undefined;
  private woken = false;
  constructor(private readonly clock: Clock) {}
  wake(): void {
    this.woken = true;
    this.resolveWait?.();
  }
  /** Resolves true when woken, false when the time ran out. */
  async wait(ms: number): Promise<boolean> {
    if (this.woken) {
      this.woken = false;
      return true;
    }
    const woken = await new Promise<boolean>((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(false), ms);
      this.resolveWait = () => {
        this.clock.clearTimeout(timer);
        resolve(true);
      };
    });
    this.resolveWait = undefined;
    this.woken = false;
    return woken;
  }
}

/**
 * Collects settlements made in one tick and writes them with one statement: at concurrency 32 a
 * subscription acks dozens of deliveries per round trip instead of one.
 */
class SettleBatcher {
  private pending: { id: string; count: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  constructor(
    private readonly query: PostgresStatementRunner,
    private readonly operation: string,
    private readonly sql: string,
    private readonly extraParameters: unknown[] = [],
  ) {}
  add(id: string, count: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ id, count, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }
  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.query(this.operation, this.sql, [
        batch.map((entry) => entry.id),
        batch.map((entry) => entry.count),
        ...this.extraParameters,
      ]);
      for (const entry of batch) entry.resolve();
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}

interface PublishRow {
  topic: string;
  id: string;
  key: string | null;
  body: Buffer;
  delayMs: number;
}

/**
 * Joins the publish calls made in one tick into one statement: one commit and one WAL fsync for
 * all of them, which is what lets many concurrent publishers go fast on PostgreSQL. A call never
 * spans two statements, so each stays atomic.
 */
class PublishBatcher {
  private pending: {
    rows: PublishRow[];
    signal: AbortSignal | undefined;
    resolve: () => void;
    reject: (error: unknown) => void;
  }[] = [];
  private scheduled = false;
  constructor(
    private readonly query: PostgresStatementRunner,
    private readonly sql: string,
    private readonly onPublished: (topics: string[]) => void,
    /** Rows per statement before a new one is started (a larger single call still goes alone). */
    private readonly maxRows = 1_000,
  ) {}
  add(rows: PublishRow[], signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ rows, signal, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }
  private flush(): void {
    this.scheduled = false;
    const calls = this.pending;
    this.pending = [];
    const batches: (typeof calls)[] = [];
    let batch: typeof calls = [];
    let size = 0;
    for (const call of calls) {
      if (call.signal?.aborted) {
        call.reject(call.signal.reason);
        continue;
      }
      if (size > 0 && size + call.rows.length > this.maxRows) {
        batches.push(batch);
        batch = [];
        size = 0;
      }
      batch.push(call);
      size += call.rows.length;
    }
    if (batch.length > 0) batches.push(batch);
    // One after another, so calls made in one tick commit in call order.
    void (async () => {
      for (const next of batches) await this.run(next);
    })();
  }
  private async run(calls: { rows: PublishRow[]; resolve: () => void; reject: (error: unknown) => void }[]) {
    const rows = calls.flatMap((call) => call.rows);
    try {
      const result = await this.query<{ topic: string }>('publish', this.sql, [
        rows.map((row) => row.topic),
        rows.map((row) => row.id),
        rows.map((row) => row.key),
        rows.map((row) => row.body),
        rows.map((row) => row.delayMs),
      ]);
      for (const call of calls) call.resolve();
      if (result.rows.length > 0) this.onPublished(result.rows.map((row) => row.topic));
    } catch (error) {
      // One bad call must not fail the others it happened to share a statement with: run them
      // one by one, in call order. A lost connection or a timeout would fail each of them alike
      // (and make the last wait n bounds): those fail together.
      if (calls.length > 1 && isStatementRejected(error)) for (const call of calls) await this.run([call]);
      else for (const call of calls) call.reject(error);
    }
  }
}

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
  const tableName = (options.table ?? postgresTransportDefaults.table).split('.').pop() as string;
  const channel = options.channel ?? `${tableName}_wake`;
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
  const subscriptions = new Set<{ topic: string; waker: Waker; close: Subscription['close'] }>();
  const commitMode = options.synchronousSettlement ? 'on' : 'off';
  const query = statementRunner(pool, 'postgresTransport', { timeoutMs: queryTimeoutMs, clock });
  const acks = new SettleBatcher(query, 'ack', sql.ack, [commitMode]);
  const releases = new SettleBatcher(query, 'nack', sql.nack, [0, commitMode]);
  const publishes = new PublishBatcher(query, sql.publish, (topics) => {
    for (const topic of topics) wake(topic);
  });

  // --- The LISTEN connection: one per transport, shared by its subscriptions. -----------------
  let listener: PoolClient | undefined;
  /** The loop that holds the LISTEN connection and re-establishes it; undefined when not running. */
  let listening: Promise<void> | undefined;
  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const bounded = (text: string): QueryConfig => ({ text, query_timeout: queryTimeoutMs }) as QueryConfig;

  const wakeAll = (topic?: string) => {
    for (const subscription of subscriptions)
      if (topic === undefined || subscription.topic === topic) subscription.waker.wake();
  };

  /**
   * LISTENs on `client` until its connection drops (rejects with why) or the transport closes
   * (resolves). A heartbeat proves the connection alive: a LISTEN connection only ever waits, so
   * one that went silent (a half-open network) would otherwise never be noticed.
   */
  const holdListening = async (client: PoolClient, onListening: () => void): Promise<void> => {
    let drop: (reason: unknown) => void = () => {};
    const dropped = new Promise<unknown>((resolve) => {
      drop = resolve;
    });
    const onError = (error: unknown) => drop(error);
    const onEnd = () => drop(new MessagingError('CONNECTION_LOST', 'The LISTEN connection ended'));
    const onClose = () => drop(undefined);
    const onNotification = (notification: Notification) => wakeAll(notification.payload);
    client.on('error', onError);
    client.on('end', onEnd);
    client.on('notification', onNotification);
    lifetime.signal.addEventListener('abort', onClose, { once: true });
    let heartbeat: TimerHandle | undefined;
    /** A statement of ours failed: the connection's state is unknown, so withClient destroys it. */
    const broken = (error: unknown) => client.emit('error', asError(error));
    try {
      if (closed) return;
      await client.query(bounded(`LISTEN "${channel}"`)).catch((error: unknown) => {
        broken(error);
        throw error;
      });
      listener = client;
      onListening();
      // Notifications may have been missed while there was no listener: look now.
      wakeAll();
      const beat = () => {
        heartbeat = clock.setTimeout(() => {
          client.query(bounded('SELECT 1')).then(beat, broken);
        }, postgresTransportDefaults.listenerHeartbeatMs);
      };
      beat();
      const reason = await dropped;
      if (reason !== undefined) throw reason;
      await client.query(bounded(`UNLISTEN "${channel}"`)).catch(broken);
    } finally {
      if (listener === client) listener = undefined;
      clock.clearTimeout(heartbeat);
      client.off('error', onError);
      client.off('end', onEnd);
      client.off('notification', onNotification);
      lifetime.signal.removeEventListener('abort', onClose);
    }
  };

  const startListener = (): void => {
    if (!listen || closed || listening) return;
    listening = (async () => {
      let failures = 0;
      while (!closed) {
        try {
          await withClient(
            pool,
            (client) =>
              holdListening(client, () => {
                failures = 0;
              }),
            { connectTimeoutMs: queryTimeoutMs, clock },
          );
        } catch (error) {
          if (!closed) reportFailure(error);
        }
        if (closed) return;
        // Deliveries published meanwhile were not notified: the subscriptions look now.
        wakeAll();
        failures += 1;
        try {
          await delay(clock, retryDelayAfter(failures), lifetime.signal);
        } catch {
          return;
        }
      }
    })().finally(() => {
      listening = undefined;
    });
  };

  /** Resolves once the LISTEN connection is given back; the transport must be closed first. */
  const stopListener = async () => {
    await listening;
  };

  const assertOpen = () => {
    if (closed) throw new TransportClosedError('postgres');
  };

  // Wake-ups after a publish: this transport's own subscribers at once, other processes through
  // one NOTIFY per topic per tick (publishes in the same tick share it).
  const topicsToNotify = new Set<string>();
  const wake = (topic: string) => {
    wakeAll(topic);
    if (!listen) return;
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
        body: serializer.serialize(message),
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
      startListener();

      const waker = new Waker(clock);
      const handlers = new Set<Promise<void>>();
      /** Deliveries claimed and not yet settled: given back on close. */
      const held = new Map<string, number>();
      let accepting = true;
      let closing: Promise<void> | undefined;

      const settle = async (row: ClaimedRow, outcome: 'ack' | 'nack', delayMs = 0) => {
        if (held.get(row.id) !== row.delivery_count) return;
        held.delete(row.id);
        try {
          if (outcome === 'ack') await acks.add(row.id, row.delivery_count);
          else if (delayMs > 0) await query('nack', sql.nack, [[row.id], [row.delivery_count], delayMs, commitMode]);
          else await releases.add(row.id, row.delivery_count);
        } catch (error) {
          // The row stays hidden until its visibility timeout and then comes back: at-least-once holds.
          reportFailure(error);
          throw error;
        } finally {
          waker.wake();
        }
      };

      const run = (row: ClaimedRow) => {
        let message: Envelope;
        try {
          message = serializer.deserialize(row.body);
        } catch (error) {
          // A body this serializer cannot read would fail forever: report it and leave it to
          // come back after the visibility timeout, where an operator can see it.
          reportError(error);
          held.delete(row.id);
          return;
        }
        const delivery: Delivery = {
          message,
          deliveryCount: row.delivery_count,
          ack: () => settle(row, 'ack'),
          nack: (nackOptions) => settle(row, 'nack', nackOptions?.delayMs ?? 0),
        };
        const running = (async () => {
          try {
            await handler(delivery);
            await settle(row, 'ack');
          } catch {
            await settle(row, 'nack').catch(() => {});
          }
        })().finally(() => {
          handlers.delete(running);
          waker.wake();
        });
        handlers.add(running);
      };

      const loop = async () => {
        let failures = 0;
        while (accepting) {
          const free = prefetch - handlers.size;
          if (free <= 0) {
            await waker.wait(pollIntervalMs);
            continue;
          }
          let rows: ClaimedRow[];
          try {
            const result = await query<ClaimedRow>('claim', sql.claim, [
              topic,
              group,
              free,
              visibilityTimeoutMs,
              commitMode,
            ]);
            rows = result.rows;
            failures = 0;
            if (!listen || listener) health.succeeded();
          } catch (error) {
            if (!accepting) return;
            reportFailure(error);
            failures += 1;
            await waker.wait(retryDelayAfter(failures));
            continue;
          }
          if (!accepting) {
            // Closed while claiming: give the rows straight back.
            await Promise.all(rows.map((row) => releases.add(row.id, row.delivery_count))).catch(reportError);
            return;
          }
          rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
          for (const row of rows) {
            held.set(row.id, row.delivery_count);
            run(row);
          }
          if (rows.length < free) {
            const woken = await waker.wait(pollIntervalMs);
            // Idle for a whole poll interval: repair heads left blocked by a publish/ack race.
            // and hand over messages held by a publish that raced the group's creation.
            if (!woken && accepting) {
              await query('unblock', sql.unblock, [topic, group]).catch(reportFailure);
              await query('adoptHeld', sql.adoptHeld, [topic]).catch(reportFailure);
            }
          }
        }
      };

      const entry = {
        topic,
        waker,
        close: (closeOptions: CloseSubscriptionOptions = {}): Promise<void> => {
          closing ??= (async () => {
            accepting = false;
            waker.wake();
            await looping;
            await settledWithin(
              clock,
              [...handlers],
              closeOptions.deadlineMs ?? postgresTransportDefaults.closeDeadlineMs,
            );
            const unsettled = [...held];
            held.clear();
            if (unsettled.length > 0) {
              await query('nack', sql.nack, [
                unsettled.map(([id]) => id),
                unsettled.map(([, count]) => count),
                0,
                commitMode,
              ]).catch(reportError);
            }
            subscriptions.delete(entry);
            if (subscriptions.size === 0 && closed) await stopListener();
          })();
          return closing;
        },
      };
      subscriptions.add(entry);
      const looping = loop();
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
      await stopListener();
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };
  return tracePublish(transport, clock);
}
