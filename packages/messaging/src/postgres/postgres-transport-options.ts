import { type Clock, exponential } from '@bulwark/resilience';
import type { Serializer } from '../envelope/serializer.js';
import { defaultQueryTimeoutMs } from './postgres-store-error.js';

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
   * A publish with no other publish of this transport in flight sends its wake-up NOTIFY inside its
   * own statement: subscribers wake one round trip sooner. Off by default: PostgreSQL holds a
   * database-wide lock from a notifying transaction's commit until its WAL is flushed, so the
   * publish commits of several processes that all notify this way no longer share fsyncs; a
   * separate NOTIFY commits without writing WAL. Turn it on where one process (or few) publishes
   * and latency matters more than the fleet's publish throughput.
   * @defaultValue false
   */
  notifyInPublish?: boolean;
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
export const retryDelayAfter = (attempt: number) =>
  reconnectBackoff.delayMs({ attempt, previousDelayMs: 0, random: () => 0 });
