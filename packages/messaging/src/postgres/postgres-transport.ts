import { type Clock, delay, systemClock } from '@bulwark/resilience';
import { migrateUnderLock } from '@bulwark/resilience/postgres';
import type { Notification, Pool, PoolClient } from 'pg';
import type { Envelope } from '../envelope/envelope.js';
import { jsonSerializer, type Serializer } from '../envelope/serializer.js';
import { InvalidMessagingOptionsError } from '../errors/messaging-error.js';
import { tracePublish } from '../telemetry/message-spans.js';
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
import ackSql from './sql/transport-ack.sql';
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
  /** @defaultValue `jsonSerializer` */
  serializer?: Serializer;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * Errors met in the background (a claim, an ack or the listener failing while the server is
   * away). The transport retries on its own; this is for logs and metrics.
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
  /** First wait before retrying a failed claim or listener connection; doubles up to `maxRetryDelayMs`. */
  retryDelayMs: 100,
  maxRetryDelayMs: 5_000,
} as const;

/** The SQL of the PostgreSQL transport, rendered for one table. */
export interface PostgresTransportSql {
  /** Creates the tables and indexes if missing (for your own migration tool). */
  readonly migrate: string;
  readonly declareGroup: string;
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
  const problems: string[] = [];
  const table = tableName('postgresTransport', options.table ?? postgresTransportDefaults.table, { problems });
  const groups = tableName(
    'postgresTransport',
    options.groupsTable ?? `${options.table ?? postgresTransportDefaults.table}_groups`,
    { option: 'groupsTable', problems },
  );
  if (problems.length > 0) throw new InvalidMessagingOptionsError('postgresTransport', problems);
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
  readonly group: string;
  /** Claimable now. */
  readonly ready: number;
  /** Held by a subscriber, or delayed. */
  readonly invisible: number;
  /** Age of the oldest row in ms (0 when empty). */
  readonly oldestMs: number;
}

/** The PostgreSQL {@link Transport}, with `migrate()`, `declareGroup()` and `snapshot()`. */
export interface PostgresTransport extends Transport {
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
    private readonly pool: Pool,
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
      await this.pool.query(this.sql, [
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
    private readonly pool: Pool,
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
      const result = await this.pool.query<{ topic: string }>(this.sql, [
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
      // one by one, in call order.
      if (calls.length > 1) for (const call of calls) await this.run([call]);
      else calls[0]?.reject(error);
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
  const reportError = (error: unknown) => options.onError?.(asError(error));
  const problems: string[] = [];
  if (!(visibilityTimeoutMs > 0 && Number.isFinite(visibilityTimeoutMs))) {
    problems.push(`visibilityTimeoutMs must be a finite number > 0, got ${visibilityTimeoutMs}`);
  }
  if (!(pollIntervalMs > 0)) problems.push(`pollIntervalMs must be > 0, got ${pollIntervalMs}`);
  if (!isSqlIdentifier(channel)) problems.push(`channel must be an identifier, got "${channel}"`);
  if (problems.length > 0) throw new InvalidMessagingOptionsError('postgresTransport', problems);

  let closed = false;
  const lifetime = new AbortController();
  const subscriptions = new Set<{ topic: string; waker: Waker; close: Subscription['close'] }>();
  const commitMode = options.synchronousSettlement ? 'on' : 'off';
  const acks = new SettleBatcher(pool, sql.ack, [commitMode]);
  const releases = new SettleBatcher(pool, sql.nack, [0, commitMode]);
  const publishes = new PublishBatcher(pool, sql.publish, (topics) => {
    for (const topic of topics) wake(topic);
  });

  // --- The LISTEN connection: one per transport, shared by its subscriptions. -----------------
  let listener: PoolClient | undefined;
  /** Detaches our listeners from the LISTEN client (pg-pool keeps its own on it). */
  let detachListener = () => {};
  let listenerStarting: Promise<void> | undefined;

  const wakeAll = (topic?: string) => {
    for (const subscription of subscriptions)
      if (topic === undefined || subscription.topic === topic) subscription.waker.wake();
  };

  const startListener = (): Promise<void> => {
    if (!listen || closed || listener) return Promise.resolve();
    listenerStarting ??= (async () => {
      let wait: number = postgresTransportDefaults.retryDelayMs;
      while (!closed && !listener) {
        let client: PoolClient | undefined;
        let released = false;
        const releaseOnce = (error?: unknown) => {
          if (released || !client) return;
          released = true;
          // A broken connection is destroyed rather than handed back to the pool.
          client.release(error === undefined ? undefined : asError(error));
        };
        try {
          client = await pool.connect();
          const connected = client;
          let dropped = false;
          const drop = (error: unknown) => {
            if (dropped) return;
            dropped = true;
            reportError(error);
            if (listener === connected) listener = undefined;
            releaseOnce(error);
            // Notifications may have been missed while down: look now, then listen again.
            wakeAll();
            if (!closed)
              void delay(clock, postgresTransportDefaults.retryDelayMs, lifetime.signal).then(startListener, () => {});
          };
          const onEnd = () => drop(new Error('LISTEN connection ended'));
          const onNotification = (notification: Notification) => wakeAll(notification.payload);
          connected.on('error', drop);
          connected.on('end', onEnd);
          connected.on('notification', onNotification);
          detachListener = () => {
            connected.off('error', drop);
            connected.off('end', onEnd);
            connected.off('notification', onNotification);
          };
          await connected.query(`LISTEN "${channel}"`);
          if (dropped) return;
          if (closed) {
            releaseOnce();
            return;
          }
          listener = connected;
          wakeAll();
        } catch (error) {
          reportError(error);
          releaseOnce(error);
          try {
            await delay(clock, wait, lifetime.signal);
          } catch {
            return;
          }
          wait = Math.min(wait * 2, postgresTransportDefaults.maxRetryDelayMs);
        }
      }
    })().finally(() => {
      listenerStarting = undefined;
    });
    return listenerStarting;
  };

  const stopListener = async () => {
    const client = listener;
    listener = undefined;
    if (!client) return;
    detachListener();
    try {
      await client.query(`UNLISTEN "${channel}"`);
      client.release();
    } catch (error) {
      client.release(asError(error));
    }
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
        pool.query(sql.notify, [channel, topics]).catch(reportError);
      });
    }
    topicsToNotify.add(topic);
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
      await pool.query(sql.declareGroup, [topic, group]);
    },

    async snapshot(snapshotOptions = {}) {
      snapshotOptions.signal?.throwIfAborted();
      const result = await pool.query<{
        topic: string;
        group_name: string;
        ready: number;
        invisible: number;
        oldest_ms: number;
      }>(sql.stats);
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
      await publishes.add(rows, publishOptions.signal);
    },

    async subscribe(topic: string, group: string, handler: DeliveryHandler, subscribeOptions: SubscribeOptions = {}) {
      subscribeOptions.signal?.throwIfAborted();
      assertOpen();
      const prefetch = subscribeOptions.prefetch ?? postgresTransportDefaults.prefetch;
      if (!(Number.isInteger(prefetch) && prefetch > 0)) {
        throw new InvalidMessagingOptionsError('subscribe', [`prefetch must be a positive integer (got ${prefetch})`]);
      }
      await pool.query(sql.declareGroup, [topic, group]);
      void startListener();

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
          else if (delayMs > 0) await pool.query(sql.nack, [[row.id], [row.delivery_count], delayMs, commitMode]);
          else await releases.add(row.id, row.delivery_count);
        } catch (error) {
          // The row stays hidden until its visibility timeout and then comes back: at-least-once holds.
          reportError(error);
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
            const result = await pool.query<ClaimedRow>(sql.claim, [
              topic,
              group,
              free,
              visibilityTimeoutMs,
              commitMode,
            ]);
            rows = result.rows;
            failures = 0;
          } catch (error) {
            if (!accepting) return;
            reportError(error);
            failures += 1;
            const wait = Math.min(
              postgresTransportDefaults.retryDelayMs * 2 ** (failures - 1),
              postgresTransportDefaults.maxRetryDelayMs,
            );
            await waker.wait(wait);
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
            if (!woken && accepting) await pool.query(sql.unblock, [topic, group]).catch(reportError);
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
              await pool
                .query(sql.nack, [unsettled.map(([id]) => id), unsettled.map(([, count]) => count), 0, commitMode])
                .catch(reportError);
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
      await listenerStarting?.catch(() => {});
      await stopListener();
    },

    [Symbol.asyncDispose]: () => transport.close(),
  };
  return tracePublish(transport, clock);
}
