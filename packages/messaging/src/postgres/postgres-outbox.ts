import { createHash } from 'node:crypto';
import {
  type Clock,
  delay,
  InvalidOptionsError,
  OptionsValidator,
  systemClock,
  type TimerHandle,
} from '@bulwark/resilience';
import { quotePostgresIdentifier } from '@bulwark/resilience/internal/postgres';
import { withClient } from '@bulwark/resilience/postgres';
import type { Pool, PoolClient, QueryConfig } from 'pg';
import type { Envelope } from '../envelope/envelope.js';
import { assertStorableEnvelope } from '../envelope/storable-values.js';
import { MessagingError } from '../errors/messaging-error.js';
import type { EventLog, NewEvent } from '../event-log/event-log.js';
import type {
  Outbox,
  OutboxClaim,
  OutboxRecord,
  OutboxRelay,
  OutboxRelaySession,
  OutboxRelaySource,
} from '../outbox/outbox.js';
import {
  type OutboxRelayOptions,
  type ResolvedOutboxRelayOptions,
  resolveOutboxRelayOptions,
} from '../outbox/outbox-options.js';
import { startOutboxRelay } from '../outbox/outbox-relay.js';
import { withCreateSpans } from '../telemetry/message-spans.js';
import { OutboxPartitionShare } from './postgres-outbox-fleet.js';
import { type OutboxClaimRow, PostgresOutboxRecord } from './postgres-outbox-record.js';
import { defaultQueryTimeoutMs, statementRunner } from './postgres-store-error.js';
import cancelWaitTemplate from './sql/outbox-cancel-wait.sql';
import claimTemplate from './sql/outbox-claim.sql';
import claimPartitionsTemplate from './sql/outbox-claim-partitions.sql';
import claimPartitionsIndexedTemplate from './sql/outbox-claim-partitions-indexed.sql';
import claimSkippingTemplate from './sql/outbox-claim-skipping.sql';
import claimedColumnsTemplate from './sql/outbox-claimed-columns.sql';
import deleteTemplate from './sql/outbox-delete.sql';
import fleetJoinTemplate from './sql/outbox-fleet-join.sql';
import fleetLeaveTemplate from './sql/outbox-fleet-leave.sql';
import fleetMembersTemplate from './sql/outbox-fleet-members.sql';
import insertTemplate from './sql/outbox-insert.sql';
import lockTemplate from './sql/outbox-lock.sql';
import migrateTemplate from './sql/outbox-migrate.sql';
import partitionIndexTemplate from './sql/outbox-partition-index.sql';
import partitionIndexReadyTemplate from './sql/outbox-partition-index-ready.sql';
import partitionReleaseTemplate from './sql/outbox-partition-release.sql';
import partitionTakeTemplate from './sql/outbox-partition-take.sql';
import sessionTemplate from './sql/outbox-session.sql';
import sessionResetTemplate from './sql/outbox-session-reset.sql';
import statsTemplate from './sql/outbox-stats.sql';
import unlockTemplate from './sql/outbox-unlock.sql';
import wakeUpsTemplate from './sql/outbox-wake-ups.sql';
import { tableName } from './table-name.js';

/** Options of {@link postgresOutbox}. */
export interface PostgresOutboxOptions {
  /**
   * The outbox table, optionally schema-qualified (`app.outbox`; parts plain or double-quoted,
   * the name at most 56 bytes). Its index, trigger, trigger function and notification channel
   * are named after it; without a schema it goes to the connection's `search_path`.
   * @defaultValue `'bulwark_outbox'`
   */
  table?: string;
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /**
   * An event log that keeps what is published: `add()` also appends each message to it, in the
   * same transaction, as an event of stream `key` (or `topic` when there is none), type `type`,
   * data `payload`, with the message's id and its headers plus `topic`. Published rows leave the
   * outbox; the log keeps them for projections and replays.
   */
  keep?: EventLog<PostgresOutboxExecutor, unknown>;
}

/**
 * How {@link PostgresOutbox.add} reaches the caller's transaction: the `pg` client on which the
 * caller ran `BEGIN` (a `PoolClient` or `Client`), or any function that runs one parameterized
 * statement in that transaction (e.g. a query builder's raw query on its transaction object).
 * Passing the `Pool` itself works but writes outside any transaction of yours.
 */
export type PostgresOutboxExecutor =
  | { query(text: string, values?: unknown[]): Promise<unknown> }
  | ((text: string, values: unknown[]) => Promise<unknown>);

/** The SQL of one outbox table, placeholders filled in. Exported for teams with their own migration tool. */
export interface PostgresOutboxSql {
  /** Creates the outbox table, its `_relay` flag table, trigger function and trigger if missing; safe at every start. */
  readonly migrate: string;
  /** `$1`: jsonb array of envelopes. */
  readonly insert: string;
  /**
   * `$1`: batch size, `$2`: bigint[] of positions to leave out, `$3`: bigint[] of published positions to
   * delete first. Returns the envelope as text (`json`) with the fields the relay routes by.
   */
  readonly claim: string;
  readonly claimSkipping: string;
  /**
   * A fleet member's read (`partitions` above 1), walking the primary key: `$4` the partition
   * count, `$5` int[] of the partitions it holds, `$6` positions to delete first.
   */
  readonly claimPartitions: string;
  /**
   * The same read started at the member's first readable row, found through the index of
   * `partitions` ({@link PostgresOutboxSql.partitionIndex}); parameters as `claimPartitions`.
   */
  claimPartitionsIndexed(partitions: number): string;
  /**
   * Builds the index a fleet of relays with `partitions` partitions reads its members' rows by
   * (if missing), and drops this table's partition indexes of other counts. Run by
   * `migrate({ partitions })`; safe at every start.
   */
  partitionIndex(partitions: number): string;
  /** The quoted, qualified name of the index of `partitions` partitions. */
  partitionIndexName(partitions: number): string;
  /** `$1`: {@link PostgresOutboxSql.partitionIndexName}. Whether that index is built and valid (`ready`). */
  readonly partitionIndexReady: string;
  /** `$1`: bigint[] of positions. */
  readonly delete: string;
  /** `$1`: the lock name ({@link PostgresOutboxSql.lockName}). */
  readonly lock: string;
  readonly unlock: string;
  readonly cancelWait: string;
  /** `$1`: the lock name. Joins the fleet of relays that share the outbox by partition. */
  readonly fleetJoin: string;
  /** `$1`: the lock name. The fleet's members and partition holders, from pg_locks. */
  readonly fleetMembers: string;
  /** Leaves the fleet: frees the session's advisory locks. */
  readonly fleetLeave: string;
  /** `$1`: the lock name, `$2`: partitions * 65536 + partition. */
  readonly partitionTake: string;
  readonly partitionRelease: string;
  /** `$1`: lock_timeout in ms. Settings of the relay's dedicated session. */
  readonly session: string;
  /** Undoes `session` and the relay's LISTEN before the connection goes back to the pool. */
  readonly sessionReset: string;
  /** `$1`: boolean, whether the leader wants writers to NOTIFY at commit. */
  readonly wakeUps: string;
  readonly stats: string;
  /** The quoted, qualified table, e.g. `"public"."bulwark_outbox"`; also names the leader lock. */
  readonly lockName: string;
  /** The LISTEN/NOTIFY channel. */
  readonly channel: string;
}

/** Options of {@link PostgresOutbox.relay}. */
export interface PostgresOutboxRelayOptions extends OutboxRelayOptions {
  /**
   * `LISTEN` for the commit notifications of the table's trigger, so new messages go out at
   * once. Turn it off where LISTEN does not work (PgBouncer in transaction mode); the relay
   * then relies on `pollIntervalMs` alone.
   * @defaultValue true
   */
  listen?: boolean;
  /**
   * A read or delete of the relay not answered by then ends its session (the connection is
   * dropped, which frees the leader lock for a standby) and the relay starts over. Guards
   * against a half-open connection that would otherwise hold the lock without publishing.
   * @defaultValue 30_000
   */
  queryTimeoutMs?: number;
  /**
   * Splits the outbox into this many partitions by key (by topic for messages without a key), so
   * that a fleet of relays publishes side by side: each relay takes a fair share of the partitions
   * (one advisory lock each), gives some up as relays join, and takes over a dead relay's
   * partitions at its next rebalance. All rows of a key are in one partition, published by one
   * relay at a time, in order. 1 keeps one relay publishing everything, the others standing by.
   * Every relay of an outbox must use the same count (a relay that sees another count backs off
   * with `OutboxPartitionsMismatchError`); relays with 1 and relays with more never publish at once.
   * Migrate with the same count (`outbox.migrate({ partitions })`): each member then starts its
   * reads at its own first row, found through the index that builds; without it, every read walks
   * the table from its oldest row, past the other members' rows and the backlog of one that lags.
   * @defaultValue 1
   */
  partitions?: number;
  /**
   * How often a relay of a fleet (`partitions` above 1) looks at the fleet and takes or gives up
   * partitions: how soon a dead relay's partitions are taken over, and a new relay gets its share.
   * It looks on a timer of its own, while none of its reads is on its connection; a relay whose
   * reads follow each other without a pause looks in front of a read once a whole interval late
   * (at most twice this apart).
   * @defaultValue 1_000
   */
  rebalanceIntervalMs?: number;
}

/** Options of {@link PostgresOutbox.migrate}. */
export interface PostgresOutboxMigrateOptions {
  /**
   * The `partitions` of the fleet of relays that will publish this outbox. Above 1, also builds
   * the index by which each member finds its first row (and drops the indexes of other counts):
   * without it every member's read walks the table from its oldest row, past the whole backlog
   * of a member that lags. Relays look for the index when their session starts. It is built in
   * the migration's transaction, so writers wait for it: short on an outbox, whose published rows
   * are deleted.
   * @defaultValue 1 (no index; partition indexes already there are left alone)
   */
  partitions?: number;
  signal?: AbortSignal;
}

/** How far relays are behind, from {@link PostgresOutbox.lag}. */
export interface PostgresOutboxLag {
  /** Committed messages not yet published. */
  readonly pending: number;
  /** Age in ms of the oldest of them; 0 when there is none. */
  readonly oldestAgeMs: number;
}

/**
 * The transactional outbox on PostgreSQL. See {@link postgresOutbox}.
 */
export interface PostgresOutbox extends Outbox<PostgresOutboxExecutor> {
  /** The quoted, qualified table name. */
  readonly table: string;
  readonly sql: PostgresOutboxSql;
  /** Creates the table, index and notify trigger if missing. Safe to run at every start, concurrently. */
  migrate(options?: PostgresOutboxMigrateOptions): Promise<void>;
  /**
   * Writes messages (from `createEnvelope`) in the caller's transaction: they are published
   * after it commits, and never if it rolls back. Several messages in one call keep their
   * order. The relay is notified when the transaction commits.
   */
  add(
    executor: PostgresOutboxExecutor,
    messages: Envelope | readonly Envelope[],
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  /**
   * Starts a relay: it waits as a hot standby while another relay of this table leads, then
   * publishes. Holds one pool connection while it runs.
   */
  relay(options: PostgresOutboxRelayOptions): OutboxRelay;
  /** Counts unpublished messages and the age of the oldest (a full count: for dashboards). */
  lag(options?: { signal?: AbortSignal }): Promise<PostgresOutboxLag>;
}

/** SQLSTATE lock_not_available: a standby's bounded wait for the leader lock ran out. */
const lockTimeoutCode = '55P03';
const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** What is wrong with a partition count below `least` or above 1024, if anything. */
function partitionCountProblem(partitions: number, least: 1 | 2, given: unknown = partitions): string | undefined {
  if (Number.isInteger(partitions) && partitions >= least && partitions <= 1024) return undefined;
  const purpose = least === 2 ? ' for a partition index' : '';
  return `partitions must be an integer from ${least} to 1024${purpose}, got ${String(given)}`;
}

function assertPartitionCount(partitions: number): void {
  const problem = partitionCountProblem(partitions, 2);
  if (problem !== undefined) throw new InvalidOptionsError('postgresOutbox', [problem]);
}

/**
 * Renders the outbox SQL for a table. `postgresOutbox(pool, options).sql` returns the same;
 * use this to run the migration with your own tool.
 */
export function postgresOutboxSql(options: Pick<PostgresOutboxOptions, 'table'> = {}): PostgresOutboxSql {
  const validator = new OptionsValidator('postgresOutbox');
  // The trigger and its function are named `<table>_notify`: 56 bytes leave room for the suffix.
  const table = tableName('postgresOutbox', options.table ?? 'bulwark_outbox', {
    problems: validator.problems,
    maxNameBytes: 56,
  });
  if ('schema' in options) validator.report(`schema is no longer an option: write table: 'schema.name'`);
  validator.throwIfInvalid();
  const qualifiedTable = table.quoted;
  const readable = table.written;
  // A channel is an identifier (at most 63 bytes); long names are hashed to fit.
  const channelText = `bulwark_outbox.${readable}`;
  const channel =
    channelText.length <= 63
      ? channelText
      : `bulwark_outbox.${createHash('sha256').update(readable).digest('hex').slice(0, 40)}`;
  const values: Record<string, string> = {
    // The select list the three reads share, its leading comment left out.
    claimed_columns: claimedColumnsTemplate.replace(/^(--.*\n)+/, '').trim(),
    table: qualifiedTable,
    relay_table: table.sibling('_relay'),
    table_literal: quoteLiteral(qualifiedTable),
    function: table.sibling('_notify'),
    trigger: table.suffixed('_notify'),
    trigger_literal: quoteLiteral(`${table.name}_notify`),
    channel: quoteLiteral(channel),
  };
  const render = (template: string, extra: Record<string, string> = {}) =>
    template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => extra[name] ?? values[name] ?? placeholder);
  return {
    migrate: render(migrateTemplate),
    insert: render(insertTemplate),
    claim: render(claimTemplate),
    claimSkipping: render(claimSkippingTemplate),
    claimPartitions: render(claimPartitionsTemplate, { start: 'TRUE' }),
    claimPartitionsIndexed(partitions) {
      assertPartitionCount(partitions);
      const start = render(claimPartitionsIndexedTemplate.replace(/^(--.*\n)+/, '').trim(), {
        partitions: String(partitions),
      });
      return render(claimPartitionsTemplate, { start });
    },
    partitionIndex(partitions) {
      assertPartitionCount(partitions);
      return render(partitionIndexTemplate, {
        partitions: String(partitions),
        partition_index: table.suffixed(`_p${partitions}`),
        partition_index_literal: quoteLiteral(`${table.name}_p${partitions}`),
        partition_index_prefix: quoteLiteral(`${table.name}_p`),
      });
    },
    partitionIndexName(partitions) {
      assertPartitionCount(partitions);
      return table.sibling(`_p${partitions}`);
    },
    partitionIndexReady: render(partitionIndexReadyTemplate),
    delete: render(deleteTemplate),
    lock: render(lockTemplate),
    unlock: render(unlockTemplate),
    cancelWait: render(cancelWaitTemplate),
    fleetJoin: render(fleetJoinTemplate),
    fleetMembers: render(fleetMembersTemplate),
    fleetLeave: render(fleetLeaveTemplate),
    partitionTake: render(partitionTakeTemplate),
    partitionRelease: render(partitionReleaseTemplate),
    session: render(sessionTemplate),
    sessionReset: render(sessionResetTemplate),
    wakeUps: render(wakeUpsTemplate),
    stats: render(statsTemplate),
    lockName: qualifiedTable,
    channel,
  };
}

/**
 * A transactional outbox in a PostgreSQL table, written through the caller's transaction and
 * published by {@link PostgresOutbox.relay}.
 *
 * How order per key is kept, with several relays and transactions that commit out of order:
 *
 * 1. **Rows are read in insertion order, as they become visible.** Every row gets a `position`
 *    from one sequence when it is inserted and becomes visible when its transaction commits.
 *    When the writers of a key take turns — the usual case: a row lock on the aggregate, or one
 *    worker per key — the next writer inserts after the previous one committed, so its row has
 *    a higher position and is never visible first: position order is commit order for that
 *    key. A transaction holding a lower position that commits late (out of sequence order) is
 *    read on a later pass; its rows are not skipped because published rows are deleted, there
 *    is no offset to move past them. The relay never waits for running transactions, so a long
 *    transaction elsewhere does not hold publishing back. (Watermill-style `xid8` +
 *    `pg_snapshot_xmin` ordering exists for offset-based readers that must not skip; it orders
 *    by transaction id, which is not commit order when a transaction took its id before
 *    waiting for the key's lock, and it stalls behind any long transaction.) Writers of one
 *    key that do not take turns have no defined commit order: they go out in insertion order.
 * 2. **One relay publishes at a time.** Relays compete for a session-level advisory lock on a
 *    dedicated connection; the holder is the leader, the others are hot standbys blocked on the
 *    lock, and PostgreSQL hands it to one of them the moment the leader's connection ends (a
 *    killed process included; server-side TCP keepalives set on that session end it within
 *    ~25 s when the relay's host or network vanishes silently). With a single reader of the
 *    sequence no two relays race on neighbouring messages of a key, and none is published
 *    while an earlier one of its key is still in the outbox. Deletes run on the lock-holding
 *    connection, so a relay that lost the lock can no longer delete anything. The leader publishes in batches grouped by topic and deletes rows
 *    only after the transport accepted them, so a killed leader's last batch is published
 *    again by the next one (at-least-once) — in order.
 *
 * The leader's connection also `LISTEN`s: a commit-time trigger on the table notifies, so new
 * messages go out within milliseconds; `pollIntervalMs` is the fallback. Because notifying
 * commits serialize cluster-wide, writers notify only while the leader is idle (a flag in the
 * one-row `<table>_relay` table); a busy leader re-reads within milliseconds instead. Each relay
 * (leader or standby) holds one pool connection while it runs.
 *
 * @example
 * ```ts
 * const outbox = postgresOutbox(pool, { table: 'outbox' });
 * await outbox.migrate();
 * await withTransaction(pool, async (client) => {
 *   await client.query('INSERT INTO orders (id, total) VALUES ($1, $2)', [orderId, total]);
 *   await outbox.add(client, createEnvelope({ topic: 'orders', type: 'order.placed', key: orderId, payload: { orderId, total } }));
 * });
 * const relay = outbox.relay({ transport, batchSize: 500 });
 * // … on shutdown
 * await relay.close();
 * ```
 */
export function postgresOutbox(pool: Pool, options: PostgresOutboxOptions = {}): PostgresOutbox {
  const sql = postgresOutboxSql(options);
  const clock = options.clock ?? systemClock;
  const relays = new Set<OutboxRelay>();
  const lagQuery = statementRunner(pool, 'postgresOutbox', { timeoutMs: defaultQueryTimeoutMs, clock });
  let closed = false;
  const name = options.table ?? 'bulwark_outbox';

  const outbox: PostgresOutbox = {
    table: sql.lockName,
    sql,
    async migrate(migrateOptions) {
      const partitions = migrateOptions?.partitions ?? 1;
      const problem = partitionCountProblem(partitions, 1, migrateOptions?.partitions);
      if (problem !== undefined) throw new InvalidOptionsError('postgresOutbox.migrate', [problem]);
      migrateOptions?.signal?.throwIfAborted();
      // One simple query: the table and its index in one transaction.
      await pool.query(partitions > 1 ? `${sql.migrate};\n${sql.partitionIndex(partitions)}` : sql.migrate);
    },
    async add(executor, messages, addOptions) {
      addOptions?.signal?.throwIfAborted();
      const given: readonly Envelope[] = Array.isArray(messages) ? messages : [messages as Envelope];
      if (given.length === 0) return;
      for (const message of given) {
        assertEnvelope(message);
        // Refused here, before the caller's transaction sees a driver error: jsonb holds no NUL.
        assertStorableEnvelope(message, { payload: 'json-text' });
      }
      const list = withCreateSpans('postgres', given);
      // First, so that a message the log refuses fails the call before the outbox row is written.
      if (options.keep) await options.keep.append(executor, list.map(keptEvent), addOptions);
      const values = [JSON.stringify(list)];
      if (typeof executor === 'function') await executor(sql.insert, values);
      else await executor.query(sql.insert, values);
    },
    relay(relayOptions) {
      if (closed) throw new MessagingError('OUTBOX_CLOSED', `The outbox ${name} is closed`);
      const queryTimeoutMs = relayOptions?.queryTimeoutMs ?? 30_000;
      const partitions = relayOptions?.partitions ?? 1;
      const rebalanceIntervalMs = relayOptions?.rebalanceIntervalMs ?? 1_000;
      const validator = new OptionsValidator('outbox relay');
      if (!Number.isInteger(queryTimeoutMs) || queryTimeoutMs < 1)
        validator.report(`queryTimeoutMs must be a positive integer, got ${String(relayOptions?.queryTimeoutMs)}`);
      const partitionsProblem = partitionCountProblem(partitions, 1, relayOptions?.partitions);
      if (partitionsProblem !== undefined) validator.report(partitionsProblem);
      if (!Number.isFinite(rebalanceIntervalMs) || rebalanceIntervalMs < 1)
        validator.report(
          `rebalanceIntervalMs must be a finite number of at least 1, got ${String(relayOptions?.rebalanceIntervalMs)}`,
        );
      let resolved: ResolvedOutboxRelayOptions | undefined;
      try {
        resolved = resolveOutboxRelayOptions(relayOptions, clock);
      } catch (error) {
        if (!(error instanceof InvalidOptionsError)) throw error;
        validator.problems.unshift(...error.problems);
      }
      validator.throwIfInvalid();
      if (resolved === undefined) throw new InvalidOptionsError('outbox relay', validator.problems);
      const source = postgresRelaySource(
        pool,
        sql,
        name,
        { listen: relayOptions.listen !== false, queryTimeoutMs, partitions, rebalanceIntervalMs },
        clock,
      );
      const relay = startOutboxRelay(source, resolved, (finished) => relays.delete(finished));
      relays.add(relay);
      return relay;
    },
    async lag(lagOptions) {
      lagOptions?.signal?.throwIfAborted();
      const result = await lagQuery<{ pending: number; oldest_age_ms: number }>(
        'lag',
        sql.stats,
        [],
        lagOptions?.signal,
      );
      const row = result.rows[0];
      return { pending: row?.pending ?? 0, oldestAgeMs: row?.oldest_age_ms ?? 0 };
    },
    async close() {
      closed = true;
      await Promise.all([...relays].map((relay) => relay.close()));
    },
    [Symbol.asyncDispose]() {
      return outbox.close();
    },
  };
  return outbox;
}

/** A published message as the event the outbox's `keep` log stores. */
function keptEvent(message: Envelope): NewEvent {
  const headers: Record<string, string> = { topic: message.topic };
  for (const [name, value] of Object.entries(message.headers ?? {}))
    if (typeof value === 'string') headers[name] = value;
  return {
    id: message.id,
    stream: message.key ?? message.topic,
    type: message.type,
    data: message.payload ?? null,
    headers,
  };
}

function assertEnvelope(message: Envelope): void {
  const problems: string[] = [];
  if (typeof message !== 'object' || message === null) problems.push('a message must be an envelope object');
  else {
    for (const field of ['id', 'topic', 'type'] as const)
      if (typeof message[field] !== 'string' || message[field].length === 0)
        problems.push(`message.${field} must be a non-empty string`);
    if (message.key !== undefined && typeof message.key !== 'string') problems.push('message.key must be a string');
  }
  if (problems.length > 0)
    throw new MessagingError('INVALID_MESSAGE', `Invalid outbox message (use createEnvelope): ${problems.join('; ')}`);
}

/**
 * Positions as a bigint[] literal. The positions came from the table as decimal text, so they need
 * no quoting; pg would quote and escape each element of a JS array (thousands per read).
 */
function positionArray(records: readonly OutboxRecord[]): string {
  return `{${records.map((record) => record.position).join(',')}}`;
}

/** The records of a read; the rows stay JSON text until something needs their envelopes. */
function claimOf(rows: readonly OutboxClaimRow[]): OutboxClaim {
  const records: OutboxRecord[] = new Array(rows.length);
  for (let index = 0; index < rows.length; index++)
    records[index] = new PostgresOutboxRecord(rows[index] as OutboxClaimRow);
  return { records, oldestAgeMs: rows[0]?.age_ms };
}

/** Leadership by advisory lock on a dedicated connection, which also LISTENs and runs the relay's SQL. */
function postgresRelaySource(
  pool: Pool,
  sql: PostgresOutboxSql,
  name: string,
  {
    listen,
    queryTimeoutMs,
    partitions,
    rebalanceIntervalMs,
  }: { listen: boolean; queryTimeoutMs: number; partitions: number; rebalanceIntervalMs: number },
  clock: Clock,
): OutboxRelaySource {
  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const withTimeout = (text: string, values: unknown[], timeoutMs = queryTimeoutMs): QueryConfig => {
    const config: QueryConfig & { query_timeout: number } = { text, values, query_timeout: timeoutMs };
    return config;
  };
  return {
    name,
    acquire(signal, progress) {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise<OutboxRelaySession>((resolveSession, rejectAcquire) => {
        let handedOver = false;
        const holding: Promise<void> = withClient(
          pool,
          (client) =>
            lead(client, signal, {
              alive: () => progress?.alive(),
              handOver(session) {
                handedOver = true;
                resolveSession(session);
              },
              given: () =>
                holding.then(
                  () => undefined,
                  () => undefined,
                ),
            }),
          { connectTimeoutMs: queryTimeoutMs, clock, signal },
        );
        holding.catch((error: unknown) => {
          if (!handedOver) rejectAcquire(signal.aborted ? signal.reason : error);
        });
      });
    },
  };

  /**
   * Takes leadership on `client` (held by withClient for the session's whole life), hands the
   * session over, and holds the client until the session ends. A statement of ours that fails
   * leaves the connection in an unknown state: it is then destroyed rather than reused.
   */
  async function lead(
    client: PoolClient,
    signal: AbortSignal,
    connection: {
      /** The server answered: a standby's bounded wait for the lock came back. */
      readonly alive: () => void;
      /** Resolves acquire() with the session. */
      readonly handOver: (session: OutboxRelaySession) => void;
      /** Settles once withClient has given the client back (or destroyed it). */
      readonly given: () => Promise<void>;
    },
  ): Promise<void> {
    let released = false;
    let endSession: (error: unknown) => void = () => {};
    const sessionEnded = new Promise<unknown>((resolve) => {
      endSession = resolve;
    });
    /** Makes withClient destroy the connection instead of returning it to the pool. */
    const destroy = (error: unknown) => {
      client.emit('error', error instanceof Error ? error : new Error(String(error)));
    };
    let broken: unknown;
    const wakes: (() => void)[] = [];
    const onError = (error: unknown) => {
      broken ??= error;
      for (const wake of wakes) wake();
    };
    const onNotification = (notification: { channel: string }) => {
      if (notification.channel === sql.channel) for (const wake of wakes) wake();
    };
    client.on('error', onError);
    const detach = () => {
      client.off('error', onError);
      client.off('notification', onNotification);
    };
    const processId = (client as PoolClient & { processID?: number }).processID;
    let fallback: TimerHandle | undefined;
    const onAbort = () => {
      // Frees the backend blocked on the lock; the waiting query then rejects. If the cancel
      // cannot get through (say the pool is exhausted), the connection is closed instead.
      if (processId !== undefined) pool.query(sql.cancelWait, [processId]).catch(() => {});
      fallback = clock.setTimeout(() => void client.end().catch(() => {}), processId === undefined ? 0 : 1_000);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let share: OutboxPartitionShare | undefined;
    /** A fleet member's read: started through the partition index where the table has it. */
    let claimPartitions = sql.claimPartitions;
    // Whether a read is on the connection: the share's timer does not put a rebalance in front of it.
    let claiming = false;
    /**
     * Runs `statement` (a blocking lock taken with lock_timeout) until it is granted; resolves this
     * session's backend pid. Each wait lasts at most lock_timeout (queryTimeoutMs) on the server and
     * proves the connection alive; the client allows a little more, so only a dead connection makes
     * it time out here.
     */
    const waitForLock = async (statement: string): Promise<number> => {
      for (;;) {
        signal.throwIfAborted();
        try {
          const result = await client.query<{ pid?: number }>(
            withTimeout(statement, [sql.lockName], queryTimeoutMs + 5_000),
          );
          return result.rows[0]?.pid ?? processId ?? 0;
        } catch (error) {
          if ((error as { code?: unknown }).code === lockTimeoutCode && !signal.aborted) continue;
          throw error;
        }
      }
    };
    try {
      signal.throwIfAborted();
      await client.query(withTimeout(sql.session, [String(queryTimeoutMs)]));
      const backendPid = await waitForLock(partitions > 1 ? sql.fleetJoin : sql.lock);
      if (partitions > 1) {
        const ready = await client.query<{ ready: boolean }>(
          withTimeout(sql.partitionIndexReady, [sql.partitionIndexName(partitions)]),
        );
        if (ready.rows[0]?.ready === true) claimPartitions = sql.claimPartitionsIndexed(partitions);
        share = new OutboxPartitionShare(
          (text, values) => client.query(withTimeout(text, values)),
          { members: sql.fleetMembers, take: sql.partitionTake, release: sql.partitionRelease },
          { lockName: sql.lockName, partitions, rebalanceIntervalMs, processId: backendPid, clock },
        );
        // A member without a partition (more relays than partitions) stands by, looking again
        // every rebalanceIntervalMs.
        for (;;) {
          await share.rebalance();
          if (share.partitions().length > 0) break;
          connection.alive();
          await delay(clock, rebalanceIntervalMs, signal);
        }
      }
      signal.throwIfAborted();
      // From now on the share rebalances on its own timer, between the relay's reads.
      share?.start(() => claiming, onError);
      if (listen) {
        client.on('notification', onNotification);
        await client.query(withTimeout(`LISTEN ${quotePostgresIdentifier(sql.channel)}`, []));
        // Members of a fleet publish side by side and never turn wake-ups off for the others.
        if (share) await client.query(withTimeout(sql.wakeUps, [true]));
      } else {
        // Nobody listens: spare writers the cost of notifying.
        await client.query(withTimeout(sql.wakeUps, [false]));
      }
      signal.throwIfAborted();
    } catch (error) {
      await share?.stop();
      detach();
      // Destroyed rather than reused: the lock may have been granted just as we gave up.
      destroy(error);
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (fallback !== undefined) clock.clearTimeout(fallback);
    }
    const session: OutboxRelaySession = {
      async claim(limit, claimOptions): Promise<OutboxClaim> {
        if (broken !== undefined) throw broken;
        const skipTopics = claimOptions?.skipTopics ?? [];
        const exclude = positionArray(claimOptions?.exclude ?? []);
        const remove = positionArray(claimOptions?.remove ?? []);
        if (share) {
          claiming = true;
          try {
            // Awaited only when there is something to do: the read is sent at once otherwise.
            const refreshing = share.refresh(claimOptions?.exclude ?? []);
            if (refreshing) await refreshing;
            const readable = share.readable();
            if (readable.length === 0) {
              // Nothing left to read (every partition given up): the published rows still go.
              if ((claimOptions?.remove?.length ?? 0) > 0) await client.query(withTimeout(sql.delete, [remove]));
              return { records: [], oldestAgeMs: undefined };
            }
            const result = await client.query<OutboxClaimRow>(
              withTimeout(claimPartitions, [limit, skipTopics, exclude, partitions, readable, remove]),
            );
            return claimOf(result.rows);
          } finally {
            claiming = false;
          }
        }
        const result = await client.query<OutboxClaimRow>(
          skipTopics.length > 0
            ? withTimeout(sql.claimSkipping, [limit, skipTopics, exclude, remove])
            : withTimeout(sql.claim, [limit, exclude, remove]),
        );
        return claimOf(result.rows);
      },
      async remove(records) {
        if (broken !== undefined) throw broken;
        await client.query(withTimeout(sql.delete, [positionArray(records)]));
      },
      prefetch: true,
      claimRemoves: true,
      ...(share && { partitions: () => share.partitions() }),
      onWake(callback) {
        wakes.push(callback);
      },
      ...(listen &&
        !share && {
          async wakeUps(wanted: boolean) {
            if (broken !== undefined) throw broken;
            await client.query(withTimeout(sql.wakeUps, [wanted]));
          },
        }),
      async end(error) {
        if (!released) {
          released = true;
          endSession(error ?? broken);
        }
        await connection.given();
      },
    };
    connection.handOver(session);
    const failure = await sessionEnded;
    // No rebalance may touch the connection once it leaves the fleet or goes back to the pool.
    await share?.stop();
    if (failure !== undefined) {
      detach();
      destroy(failure);
      return;
    }
    try {
      // Unlocking first hands over to a standby at once; the reset leaves nothing of the relay
      // (LISTEN, session settings) to the pool's next user.
      await client.query(share ? withTimeout(sql.fleetLeave, []) : withTimeout(sql.unlock, [sql.lockName]));
      await client.query(withTimeout(sql.sessionReset, []));
      detach();
    } catch (unlockError) {
      detach();
      destroy(unlockError);
    }
  }
}
