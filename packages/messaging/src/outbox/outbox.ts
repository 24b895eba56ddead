import type { EventSubscription } from '@bulwark/resilience';
import type { Envelope } from '../envelope/envelope.js';
import type { JsonEnvelope } from '../envelope/json-envelope.js';
import type { ConnectionHealth } from '../transport/connection-health.js';
import type { OutboxRelayEvents } from './outbox-events.js';
import type { OutboxRelayOptions } from './outbox-options.js';

/**
 * A transactional outbox: messages are written in the same database transaction as the state
 * change that causes them, and a relay publishes them once that transaction has committed.
 * Nothing is published for a transaction that rolls back, nothing committed is lost.
 *
 * Guarantees of every implementation:
 * - at-least-once: a committed message is published at least once, even if relays are killed
 *   (a relay killed between publishing and removing a row publishes it again; consumers
 *   deduplicate by message id);
 * - per-key order: two messages of one topic with the same `key` are published in the order
 *   they were committed, even with several relays running and transactions that commit out of
 *   sequence order (each implementation says how), and no message is published while an
 *   earlier one of its key is still unpublished;
 * - several relays may run at once without publishing the same row twice in normal operation.
 *
 * `Executor` is how `add` reaches the caller's transaction, e.g. a `pg` client inside
 * `BEGIN … COMMIT` for {@link https://www.postgresql.org | PostgreSQL}.
 */
export interface Outbox<Executor> {
  /** Writes `messages` through `executor`, i.e. inside the caller's own transaction. */
  add(executor: Executor, messages: Envelope | readonly Envelope[], options?: { signal?: AbortSignal }): Promise<void>;
  /** Starts a relay that publishes committed messages until it is closed or `options.signal` aborts. */
  relay(options: OutboxRelayOptions): OutboxRelay;
  /**
   * Closes every relay started by this outbox; `relay()` throws afterwards (`add` keeps working:
   * it only writes through the caller's client). Does not close the client the outbox was given.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Whether a relay publishes (`leader`), waits to take over (`standby`), or has stopped. */
export type OutboxRelayRole = 'standby' | 'leader' | 'closed';

/** A point-in-time view of a relay, for dashboards and health checks. */
export interface OutboxRelaySnapshot {
  readonly outbox: string;
  readonly role: OutboxRelayRole;
  /** Messages this relay has published (and removed from the outbox) since it started. */
  readonly dispatched: number;
  /** Messages per second published over the last 10 seconds (or since start, if shorter). */
  readonly throughputPerSecond: number;
  /**
   * Age in ms of the oldest unpublished message, as last seen by this relay and grown by the
   * time since; 0 when the outbox was empty. `undefined` on a standby, which does not read.
   */
  readonly lagMs: number | undefined;
  /** Publish attempts that failed since start (each is retried). */
  readonly publishFailures: number;
  /** The last publish or store error, if the relay is currently retrying. */
  readonly lastError: unknown;
  /**
   * The partitions of the outbox this relay publishes, for stores that share the work of a fleet of
   * relays by partition (PostgreSQL with `partitions` above 1); `undefined` for a store that does
   * not partition (one relay publishes everything).
   */
  readonly partitions: readonly number[] | undefined;
  /**
   * The outbox store's connection: `degraded` from a failed read or a failed attempt to take
   * leadership until the store answers again (a standby waiting for the lock counts as up).
   */
  readonly health: ConnectionHealth;
}

/** A running relay. */
export interface OutboxRelay {
  snapshot(): OutboxRelaySnapshot;
  /** Listens to an event; returns a function that removes the listener. */
  on<Name extends keyof OutboxRelayEvents>(
    name: Name,
    listener: (event: OutboxRelayEvents[Name]) => void,
  ): EventSubscription;
  /**
   * Stops: a standby stops waiting at once; a leader finishes the batch it is publishing (a
   * publish retry waiting for its backoff is abandoned; its rows stay for the next leader),
   * then gives leadership up. Resolves when the relay has stopped.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A claim check as the relay uses it: replaces a payload too big for the transport by a
 * reference to a stored blob (`claimCheck({ store, thresholdBytes })` fits).
 */
export interface OutboxClaimCheck {
  checkIn<Payload>(message: Envelope<Payload>, options?: { signal?: AbortSignal }): Promise<Envelope>;
}

/** A message read from an outbox, with the store's handle to remove it once published. */
export interface OutboxRecord {
  /** Store-specific handle of the row (PostgreSQL: its `position`). */
  readonly position: string;
  /** The message; a store that also gives `json` may parse it from there when it is first read. */
  readonly message: Envelope;
  /**
   * The message as the store keeps it, JSON text with the fields the relay routes by, for stores
   * that read it as text (PostgreSQL). The relay hands it as it is to a transport with
   * `publishJson` when no claim check is set; otherwise, and without it, it publishes `message`.
   * A store of your own makes it with {@link @bulwark/messaging!toJsonEnvelope} (which parses the
   * text, so it saves nothing over leaving it out).
   */
  readonly json?: JsonEnvelope;
  /** The partition the row belongs to, for stores that partition their rows among relays. */
  readonly partition?: number;
}

/** What one read of the outbox returns. */
export interface OutboxClaim {
  /** Messages ready to publish, in publishing order. */
  readonly records: readonly OutboxRecord[];
  /** Age in ms of the oldest message read (the first record), `undefined` when none was ready. */
  readonly oldestAgeMs: number | undefined;
}

/**
 * The port between the relay engine ({@link startOutboxRelay}) and an outbox store. A store
 * decides who may publish and in which order; the engine publishes, retries and reports.
 */
export interface OutboxRelaySource {
  /** Names the outbox in events and snapshots, e.g. `public.bulwark_outbox`. */
  readonly name: string;
  /**
   * Resolves once this relay may publish (e.g. holds the leader lock); waits while another
   * relay publishes. Rejects with `signal.reason` as soon as `signal` aborts. Calls
   * `progress.alive()` whenever a wait proves the store reachable (a standby's bounded lock wait).
   */
  acquire(signal: AbortSignal, progress?: { readonly alive: () => void }): Promise<OutboxRelaySession>;
}

/** The right to publish, held until `end`. */
export interface OutboxRelaySession {
  /**
   * Reads up to `limit` ready messages, in publishing order, leaving out the messages of
   * `options.skipTopics`: topics whose publishing fails are retried on their own, and nothing newer
   * of theirs may go out before them, while every other topic goes on. Stores that declare
   * `prefetch` also leave out the records of `options.exclude`: every record the relay read and has
   * not removed yet (being published, waiting to be removed, or waiting for a retry). A partitioned
   * store gives a partition up only once no record of it is in `exclude`.
   */
  claim(
    limit: number,
    options?: {
      readonly skipTopics?: readonly string[];
      readonly exclude?: readonly OutboxRecord[];
      /** Published records to remove before reading, for stores that declare `claimRemoves`. */
      readonly remove?: readonly OutboxRecord[];
    },
  ): Promise<OutboxClaim>;
  /**
   * True when `claim` removes `options.remove` before it reads, in the same round trip: the engine
   * then hands published records to the next read instead of removing them on their own (one round
   * trip per batch instead of two). Absent: published records go through `remove`.
   */
  readonly claimRemoves?: boolean;
  /**
   * True when `claim` leaves out `options.exclude` (records being published, not yet removed): the
   * engine then reads the next batch while the current one is being published, and removes
   * published rows while it publishes the next. Absent: one batch at a time.
   */
  readonly prefetch?: boolean;
  /** Removes published records. */
  remove(records: readonly OutboxRecord[]): Promise<void>;
  /** Calls `callback` whenever new messages may have been committed (and when the session breaks). */
  onWake(callback: () => void): void;
  /**
   * For stores where waking the relay costs writers something (PostgreSQL's NOTIFY serializes
   * commits): the engine asks for wake-ups (`true`) only when it goes idle and turns them off
   * (`false`) while busy, re-reading within milliseconds instead. Absent when wake-ups are free.
   */
  wakeUps?(wanted: boolean): Promise<void>;
  /**
   * The partitions this session publishes, for stores that share an outbox among a fleet of relays
   * by partition (the session takes and gives up partitions as relays come and go). Absent when
   * the store does not partition.
   */
  partitions?(): readonly number[];
  /** Gives the right to publish up; `error` when the session failed and must not be reused. */
  end(error?: unknown): Promise<void>;
}
