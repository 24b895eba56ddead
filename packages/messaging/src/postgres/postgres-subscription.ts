import type { Clock } from '@bulwark/resilience';
import type { Envelope } from '../envelope/envelope.js';
import type { Serializer } from '../envelope/serializer.js';
import type { ConnectionHealthTracker } from '../transport/connection-health.js';
import { settledWithin } from '../transport/in-flight.js';
import type { CloseSubscriptionOptions, Delivery, DeliveryHandler } from '../transport/transport.js';
import type { SettleBatcher } from './postgres-settle-batcher.js';
import type { PostgresStatementRunner } from './postgres-store-error.js';
import { postgresTransportDefaults, retryDelayAfter } from './postgres-transport-options.js';
import type { PostgresTransportSql } from './postgres-transport-sql.js';
import { Waker } from './postgres-transport-waker.js';

interface ClaimedRow {
  id: string;
  body: Buffer;
  delivery_count: number;
  /** It has an ordering key: its ack may unblock the next message of the key. */
  keyed: boolean;
  /** Claimable rows were left behind by the claim (the same on every row of it). */
  more: boolean;
}

/** What one subscription needs from its transport. */
export interface PostgresSubscriptionContext {
  readonly topic: string;
  readonly group: string;
  readonly handler: DeliveryHandler;
  readonly prefetch: number;
  readonly query: PostgresStatementRunner;
  readonly sql: PostgresTransportSql;
  readonly acks: SettleBatcher;
  readonly releases: SettleBatcher;
  /** `synchronous_commit` of claims and settlements. */
  readonly commitMode: 'on' | 'off';
  readonly visibilityTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly serializer: Serializer;
  readonly clock: Clock;
  readonly health: ConnectionHealthTracker;
  /** Whether a claim that succeeds proves the transport healthy (no LISTEN connection, or it is up). */
  readonly wakeUpsWork: () => boolean;
  readonly reportFailure: (error: unknown) => void;
  readonly reportError: (error: unknown) => void;
  /** Called once the subscription is closed and has given back what it held. */
  readonly onClosed: (subscription: PostgresSubscription) => Promise<void>;
}

/** A running subscription, as its transport sees it. */
export interface PostgresSubscription {
  readonly topic: string;
  /** Says that messages may be waiting (a notification, a publish, a LISTEN reconnect): the loop claims. */
  wake(): void;
  close(options?: CloseSubscriptionOptions): Promise<void>;
}

/**
 * Runs one subscription: a loop that claims up to `prefetch` rows at a time (waking on
 * notifications, polling every `pollIntervalMs`, backing off after failures), runs the handler
 * of each, settles them in batches, and on close gives back what it still holds.
 */
export function startPostgresSubscription(context: PostgresSubscriptionContext): PostgresSubscription {
  const { topic, group, handler, prefetch, query, sql, acks, releases, commitMode, clock, health } = context;
  const { reportFailure, reportError } = context;
  const waker = new Waker(clock);
  /**
   * Counts the signs that a claim may find something (wake-ups, a claim that left rows behind, a
   * poll, a settlement that makes a row claimable). The loop claims only when it moved since its
   * last claim began, so a handler that finishes, freeing a slot, does not cost an empty claim;
   * one that arrives during a claim still counts.
   */
  let claimable = 1;
  let claimedAt = 0;
  const workMayWait = () => {
    claimable += 1;
    waker.wake();
  };
  const handlers = new Set<Promise<void>>();
  /** Deliveries claimed and not yet settled: given back on close. */
  const held = new Map<string, number>();
  let accepting = true;
  let closing: Promise<void> | undefined;

  const settle = async (row: ClaimedRow, outcome: 'ack' | 'nack', delayMs = 0) => {
    if (held.get(row.id) !== row.delivery_count) return;
    held.delete(row.id);
    let failed = false;
    try {
      if (outcome === 'ack') await acks.add(row.id, row.delivery_count);
      else if (delayMs > 0) await query('nack', sql.nack, [[row.id], [row.delivery_count], delayMs, commitMode]);
      else await releases.add(row.id, row.delivery_count);
    } catch (error) {
      // The row stays hidden until its visibility timeout and then comes back: at-least-once holds.
      reportFailure(error);
      failed = true;
      throw error;
    } finally {
      // A nack makes the row claimable again; an ack, the next message of its key; after a
      // failure, the next good claim is what says the transport is healthy again.
      if (outcome === 'nack' || row.keyed || failed) workMayWait();
      else waker.wake();
    }
  };

  const run = (row: ClaimedRow) => {
    let message: Envelope;
    try {
      message = context.serializer.deserialize(row.body);
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
        // Busy for a whole poll interval: delayed or expired rows may be visible once a slot frees.
        if (!(await waker.wait(context.pollIntervalMs))) claimable += 1;
        continue;
      }
      if (claimable === claimedAt) {
        const woken = await waker.wait(context.pollIntervalMs);
        if (!woken && accepting) {
          // Idle for a whole poll interval: delayed or expired rows may be visible now. Also repair
          // heads left blocked by a publish/ack race, and hand over messages held by a publish that
          // raced the group's creation.
          await query('unblock', sql.unblock, [topic, group]).catch(reportFailure);
          await query('adoptHeld', sql.adoptHeld, [topic]).catch(reportFailure);
          claimable += 1;
        }
        continue;
      }
      claimedAt = claimable;
      let rows: ClaimedRow[];
      try {
        const result = await query<ClaimedRow>('claim', sql.claim, [
          topic,
          group,
          free,
          context.visibilityTimeoutMs,
          commitMode,
        ]);
        rows = result.rows;
        failures = 0;
        if (context.wakeUpsWork()) health.succeeded();
      } catch (error) {
        if (!accepting) return;
        reportFailure(error);
        failures += 1;
        claimable += 1;
        await waker.wait(retryDelayAfter(failures));
        continue;
      }
      if (!accepting) {
        // Closed while claiming: give the rows straight back.
        await Promise.all(rows.map((row) => releases.add(row.id, row.delivery_count))).catch(reportError);
        return;
      }
      rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      // A full claim that left rows behind claims again as soon as a slot frees.
      if (rows.length === free && rows[0]?.more) claimable += 1;
      for (const row of rows) {
        held.set(row.id, row.delivery_count);
        run(row);
      }
    }
  };

  const subscription: PostgresSubscription = {
    topic,
    wake: workMayWait,
    close: (closeOptions: CloseSubscriptionOptions = {}): Promise<void> => {
      closing ??= (async () => {
        accepting = false;
        waker.wake();
        await looping;
        await settledWithin(clock, [...handlers], closeOptions.deadlineMs ?? postgresTransportDefaults.closeDeadlineMs);
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
        await context.onClosed(subscription);
      })();
      return closing;
    },
  };
  const looping = loop();
  return subscription;
}
