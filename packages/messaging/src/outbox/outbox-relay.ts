import { setMaxListeners } from 'node:events';
import type { EventSubscription } from '@bulwark/resilience';
import { delay, NamedEventEmitter } from '@bulwark/resilience';
import type { JsonEnvelope } from '../envelope/json-envelope.js';
import { MessagingError } from '../errors/messaging-error.js';
import { observeOutboxRelay } from '../telemetry/outbox-relay-metrics.js';
import { ConnectionHealthTracker } from '../transport/connection-health.js';
import type {
  OutboxClaim,
  OutboxRecord,
  OutboxRelay,
  OutboxRelayRole,
  OutboxRelaySession,
  OutboxRelaySnapshot,
  OutboxRelaySource,
} from './outbox.js';
import type { OutboxRelayEvents } from './outbox-events.js';
import { type ResolvedOutboxRelayOptions, readSizeOf } from './outbox-options.js';
import { type LanePublish, PublishLanes, topicOf } from './outbox-publish-lanes.js';

/** The reason a relay's waits are aborted with when it is closed. */
export class OutboxRelayClosedError extends MessagingError {
  override name = 'OutboxRelayClosedError';
  constructor() {
    super('OUTBOX_RELAY_CLOSED', 'The outbox relay was closed');
  }
}

/** A publish (with its claim check) that took longer than `publishTimeoutMs`. */
export class OutboxPublishTimeoutError extends MessagingError {
  override name = 'OutboxPublishTimeoutError';
  constructor(
    readonly topic: string,
    readonly timeoutMs: number,
  ) {
    super('OUTBOX_PUBLISH_TIMEOUT', `Publishing to ${topic} did not finish within ${timeoutMs} ms`);
  }
}

/**
 * While busy with wake-ups turned off, an empty read is retried after these delays (ms) before
 * the relay asks for wake-ups again and goes idle: messages keep coming within milliseconds of
 * each other under load, so a few quick re-reads cost less than making every writer notify.
 */
const busyRecheckMs = [1, 2, 3, 5, 8] as const;
/**
 * After asking for wake-ups, read once more after this: a transaction whose commit-time trigger
 * saw them off but whose commit became visible only after our last read did not notify.
 */
const afterWakeUpsOnMs = 20;

/** Throughput is averaged over this window, in one-second buckets. */
const throughputWindowMs = 10_000;

/**
 * Runs the relay engine over an outbox store: takes the right to publish from `source`, then
 * reads batches in order, checks big payloads in, publishes them grouped by topic (keeping
 * their order within each topic), removes what the transport accepted, and retries a failed
 * topic after the `backoff` delay while the other topics go on (nothing newer of the failed
 * topic is read until its rows are out): a row leaves the outbox only after its message was
 * published. Store
 * failures end the session (the right to publish is given up) and it starts over after the
 * same delay. Used by `postgresOutbox().relay()`; exported for other outbox stores.
 */
export function startOutboxRelay(
  source: OutboxRelaySource,
  options: ResolvedOutboxRelayOptions,
  onClosed?: (relay: OutboxRelay) => void,
): OutboxRelay {
  return observeOutboxRelay(new Relay(source, options, onClosed));
}

class Relay implements OutboxRelay {
  private readonly emitter = new NamedEventEmitter<OutboxRelayEvents>();
  /** Aborts on close() or the caller's signal: ends waits, the standby's wait for leadership. */
  private readonly stopping = new AbortController();
  /** Aborts on the caller's signal only: a close() lets the batch in flight finish. */
  private readonly publishing = new AbortController();
  private role: OutboxRelayRole = 'standby';
  private dispatched = 0;
  private publishFailures = 0;
  private storeFailures = 0;
  /** The delay after the previous store failure, for decorrelated jitter. */
  private storeRetryInMs = 0;
  private lastError: unknown;
  /** The store's connection: degraded from a failed read or acquire until the store answers again. */
  private readonly health: ConnectionHealthTracker;
  /** The session while leading, for the partitions it holds. */
  private session: OutboxRelaySession | undefined;
  private lag: { readonly ageMs: number; readonly at: number } | 'empty' | undefined;
  private readonly buckets: { second: number; count: number }[] = [];
  private readonly startedAt: number;
  private readonly done: Promise<void>;
  private readonly detachSignal: () => void = () => {};

  constructor(
    private readonly source: OutboxRelaySource,
    private readonly options: ResolvedOutboxRelayOptions,
    private readonly onClosed: ((relay: OutboxRelay) => void) | undefined,
  ) {
    this.startedAt = options.clock.now();
    this.health = new ConnectionHealthTracker(options.clock);
    // Every publish in flight listens to it (up to publishConcurrency, 256): no leak warning past 10.
    setMaxListeners(0, this.publishing.signal);
    const signal = options.signal;
    if (signal) {
      const onAbort = () => {
        this.publishing.abort(signal.reason);
        this.stopping.abort(signal.reason);
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
    }
    this.done = this.run();
  }

  on<Name extends keyof OutboxRelayEvents>(
    name: Name,
    listener: (event: OutboxRelayEvents[Name]) => void,
  ): EventSubscription {
    return this.emitter.on(name, listener);
  }

  snapshot(): OutboxRelaySnapshot {
    const now = this.options.clock.now();
    const held = this.role === 'leader' ? this.session?.partitions?.() : undefined;
    // A fleet member whose share is no partition publishes nothing: it stands by for one.
    const role: OutboxRelayRole = held?.length === 0 ? 'standby' : this.role;
    let lagMs: number | undefined;
    if (role === 'leader' && this.lag !== undefined)
      lagMs = this.lag === 'empty' ? 0 : this.lag.ageMs + Math.max(0, now - this.lag.at);
    const windowStart = Math.floor((now - throughputWindowMs) / 1000);
    let recent = 0;
    for (const bucket of this.buckets) if (bucket.second > windowStart) recent += bucket.count;
    const windowMs = Math.min(throughputWindowMs, Math.max(1000, now - this.startedAt));
    return {
      outbox: this.source.name,
      role,
      dispatched: this.dispatched,
      throughputPerSecond: (recent * 1000) / windowMs,
      lagMs,
      publishFailures: this.publishFailures,
      lastError: this.lastError,
      partitions: role === 'leader' ? held : undefined,
      health: this.health.health,
    };
  }

  async close(): Promise<void> {
    if (!this.stopping.signal.aborted) this.stopping.abort(new OutboxRelayClosedError());
    await this.done;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    try {
      while (!signal.aborted) {
        let session: OutboxRelaySession;
        try {
          session = await this.source.acquire(signal, { alive: () => this.health.succeeded() });
          this.health.succeeded();
        } catch (error) {
          if (signal.aborted) break;
          await this.pauseAfterStoreFailure(error);
          continue;
        }
        this.role = 'leader';
        this.session = session;
        this.emitter.emit('outbox-leadership-acquired', { outbox: this.source.name });
        let failure: { error: unknown } | undefined;
        try {
          await this.lead(session);
        } catch (error) {
          if (!signal.aborted) failure = { error };
        }
        this.role = 'standby';
        this.session = undefined;
        this.lag = undefined;
        await session.end(failure?.error).catch(() => {});
        this.emitter.emit(
          'outbox-leadership-released',
          failure ? { outbox: this.source.name, error: failure.error } : { outbox: this.source.name },
        );
        if (failure) await this.pauseAfterStoreFailure(failure.error);
      }
    } finally {
      this.role = 'closed';
      this.detachSignal();
      this.onClosed?.(this);
    }
  }

  private async pauseAfterStoreFailure(error: unknown): Promise<void> {
    this.storeFailures += 1;
    this.lastError = error;
    this.health.failed(error);
    const retryInMs = this.options.retryDelay(this.storeFailures, this.storeRetryInMs);
    this.storeRetryInMs = retryInMs;
    this.emitter.emit('outbox-relay-failed', { outbox: this.source.name, error, retryInMs });
    await delay(this.options.clock, retryInMs, this.stopping.signal).catch(() => {});
  }

  /** Publishes while this relay holds the session; returns when stopping, throws when the store fails. */
  private async lead(session: OutboxRelaySession): Promise<void> {
    const { clock, batchSize, pollIntervalMs, publishConcurrency } = this.options;
    const readSize = readSizeOf(this.options);
    const signal = this.stopping.signal;
    // Topics whose publishing failed, with the rows that wait for their next attempt. Reads leave
    // these topics out until their rows are out, so nothing newer of theirs overtakes them, and
    // every other topic goes on meanwhile.
    const retrying = new Map<string, RetryingTopic>();
    // A store failure seen by the removals running beside the loop; the loop throws it.
    const store: { failure?: { readonly error: unknown } } = {};
    const throwIfStoreFailed = () => {
      if (store.failure) throw store.failure.error;
    };
    // Accepted publishes whose rows wait to be removed; one removal runs at a time and takes all.
    const accepted: LanePublish[] = [];
    let removing: Promise<void> | undefined;
    // Records accepted by the transport and not removed yet (in `accepted` or being removed).
    let awaitingRemoval = 0;
    /** `records`: the records of `published`, as handed to the removal. */
    const removed = (published: readonly LanePublish[], records: readonly OutboxRecord[]) => {
      lanes.release(records);
      awaitingRemoval -= records.length;
      this.reportRemoved(published);
    };
    // Set by a notification that arrives at any time after a read started: that read may have
    // missed the row, so read again instead of sleeping.
    let woken = false;
    let wake: (() => void) | undefined;
    const removeAccepted = () => {
      if (removing !== undefined || accepted.length === 0 || store.failure !== undefined) return;
      const batch = accepted.splice(0);
      const records = recordsOf(batch);
      removing = session.remove(records).then(
        () => removed(batch, records),
        (error: unknown) => {
          store.failure ??= { error };
        },
      );
      void removing.finally(() => {
        removing = undefined;
        settled = true;
        wake?.();
        removeAccepted();
      });
    };
    const lanes: PublishLanes = new PublishLanes(publishConcurrency, batchSize, {
      publish: (topic, records) => this.publishTopic(topic, records),
      accepted: (publish) => {
        accepted.push(publish);
        awaitingRemoval += publish.records.length;
        // A store that removes on its next read gets them then (the loop reads while publishing).
        if (!session.claimRemoves) removeAccepted();
      },
      failed: (publish, error) =>
        this.failed(retrying, publish.topic, [...publish.records], 1, error, {
          ageMs: publish.read.lagMs,
          at: publish.read.startedAt,
        }),
      settled: () => {
        settled = true;
        wake?.();
      },
    });
    session.onWake(() => {
      woken = true;
      wake?.();
    });
    // Set when a publish or a removal settles; the loop waits for one while it cannot read.
    let settled = false;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) {
          resolve();
          return;
        }
        const finish = () => {
          clock.clearTimeout(timer);
          signal.removeEventListener('abort', finish);
          wake = undefined;
          resolve();
        };
        // A retrying topic that comes due ends the sleep too.
        let untilDue = ms;
        for (const topic of retrying.values()) untilDue = Math.min(untilDue, Math.max(0, topic.dueAt - clock.now()));
        const timer = clock.setTimeout(finish, untilDue);
        signal.addEventListener('abort', finish, { once: true });
        wake = finish;
      });
    // Whether wake-ups are on, where the store makes them optional; unknown at first.
    let wakeUps: boolean | undefined;
    let quietReads = 0;
    // A store that leaves out what is being published lets the relay read one batch ahead and
    // remove rows while it publishes; any other store is read only once everything read went out.
    // `reading`: records just read and not yet in the lanes, which a read started meanwhile counts.
    const mayRead = (reading = 0) =>
      session.prefetch ? lanes.heldCount + reading - awaitingRemoval <= readSize : lanes.heldCount + reading === 0;
    /**
     * Starts a read that leaves out what the relay holds and `reading`, and removes in the same
     * round trip what was accepted meanwhile (for a store that does). It is awaited later; a
     * failure then ends the session.
     */
    const startRead = (reading: readonly OutboxRecord[]): PendingRead => {
      const startedAt = clock.now();
      const waiting = [...retrying.values()].flatMap((topic) => topic.records);
      const removal = session.claimRemoves && removing === undefined ? accepted.splice(0) : [];
      const removalRecords = recordsOf(removal);
      const held = lanes.heldCount + reading.length + waiting.length > 0;
      const claim = session.claim(readSize, {
        ...(retrying.size > 0 ? { skipTopics: [...retrying.keys()] } : {}),
        ...(session.prefetch && held ? { exclude: [...lanes.heldRecords(), ...reading, ...waiting] } : {}),
        ...(removalRecords.length > 0 ? { remove: removalRecords } : {}),
      });
      // Awaited by the loop, or by the session's end when the loop stops first.
      claim.catch(() => {});
      return { startedAt, claim, removal, removalRecords };
    };
    // A read started as the previous one returned, before its records went to the lanes: its round
    // trip overlaps the CPU of starting their publishes instead of following it.
    let ahead: PendingRead | undefined;
    try {
      while (!signal.aborted) {
        throwIfStoreFailed();
        woken = false;
        settled = false;
        let read = ahead;
        ahead = undefined;
        if (read === undefined) {
          await this.retryDue(session, retrying);
          if (!mayRead()) {
            // Woken by a publish or a removal that settles, or a retry that comes due.
            if (!settled) await sleep(pollIntervalMs);
            continue;
          }
          read = startRead([]);
        }
        const { startedAt } = read;
        const claim = await read.claim;
        if (read.removal.length > 0) removed(read.removal, read.removalRecords);
        throwIfStoreFailed();
        // A good read with nothing failing means all is well again.
        this.storeFailures = 0;
        this.health.succeeded();
        if (retrying.size === 0) this.lastError = undefined;
        this.lag = lagOf(claim.oldestAgeMs, retrying, clock.now());
        // A store that does not honour skipTopics, or a topic that failed while this read ran: its
        // rows wait for that topic's retry.
        const records =
          retrying.size > 0 ? claim.records.filter((record) => !retrying.has(topicOf(record))) : claim.records;
        if (records.length > 0) {
          quietReads = 0;
          // Queued on the store's connection ahead of the next read, awaited once that read is started.
          const wakeUpsOff = session.wakeUps && wakeUps !== false ? session.wakeUps(false) : undefined;
          wakeUpsOff?.catch(() => {});
          // A full batch: more may be waiting, read again at once (while this one is published).
          const full = claim.records.length >= readSize;
          if (full && retrying.size === 0 && mayRead(records.length)) ahead = startRead(records);
          if (wakeUpsOff) {
            await wakeUpsOff;
            wakeUps = false;
          }
          lanes.add(records, { startedAt, lagMs: claim.oldestAgeMs ?? 0 });
          if (full) continue;
        }
        if (lanes.heldCount - awaitingRemoval > 0 || (awaitingRemoval > 0 && !session.claimRemoves)) {
          // Still publishing: the next read waits for a publish or a removal to settle, or a wake-up.
          if (!woken && !settled) await sleep(pollIntervalMs);
          continue;
        }
        // All published; the next read removes what was accepted meanwhile.
        if (awaitingRemoval > 0) continue;
        if (woken) continue;
        if (session.wakeUps && wakeUps !== true) {
          const recheckMs = wakeUps === false ? busyRecheckMs[quietReads] : undefined;
          if (recheckMs !== undefined) {
            quietReads += 1;
            await sleep(recheckMs);
            continue;
          }
          await session.wakeUps(true);
          wakeUps = true;
          quietReads = 0;
          await sleep(afterWakeUpsOnMs);
          continue;
        }
        await sleep(pollIntervalMs);
      }
    } finally {
      // A read started ahead: its records stay in the store for the next leader, the published
      // rows it removed are done with.
      if (ahead !== undefined) {
        const { claim, removal, removalRecords } = ahead;
        await claim.then(
          () => removed(removal, removalRecords),
          () => accepted.push(...removal),
        );
      }
      // What was read but not sent stays in the store for the next leader; what is being sent
      // finishes, and what was accepted is removed while the session still can.
      lanes.dropQueued();
      await lanes.settledAll();
      while (removing !== undefined || (accepted.length > 0 && store.failure === undefined)) {
        removeAccepted();
        await removing;
      }
    }
    throwIfStoreFailed();
    if (this.publishing.signal.aborted) throw this.publishing.signal.reason;
  }

  /** Tries again every retrying topic whose delay is over; those that go out leave `retrying`. */
  private async retryDue(session: OutboxRelaySession, retrying: Map<string, RetryingTopic>): Promise<void> {
    const now = this.options.clock.now();
    const published: LanePublish[] = [];
    for (const [topic, waiting] of [...retrying]) {
      if (waiting.dueAt > now) continue;
      const error = await this.publishTopic(topic, waiting.records);
      if (error === undefined) {
        retrying.delete(topic);
        published.push({ topic, records: waiting.records, read: { startedAt: now, lagMs: 0 } });
      } else this.failed(retrying, topic, waiting.records, waiting.attempt + 1, error, waiting.oldest);
    }
    if (published.length === 0) return;
    await session.remove(published.flatMap((entry) => entry.records));
    this.reportRemoved(published);
  }

  /** One attempt at one topic's messages (checked in first); resolves the error if it failed. */
  private async publishTopic(topic: string, group: readonly OutboxRecord[]): Promise<unknown> {
    const { transport, claimCheck } = this.options;
    try {
      await this.withTimeout(topic, async (attemptSignal) => {
        // The stored JSON goes out as it is where the transport takes it and nothing has to change
        // the message first (a claim check works on the envelope).
        const ready = claimCheck === undefined && transport.publishJson ? jsonOf(group) : undefined;
        if (ready) {
          await transport.publishJson?.(topic, ready, { signal: attemptSignal });
          return;
        }
        const messages = claimCheck
          ? await Promise.all(group.map((record) => claimCheck.checkIn(record.message, { signal: attemptSignal })))
          : group.map((record) => record.message);
        await transport.publish(topic, messages, { signal: attemptSignal });
      });
      return undefined;
    } catch (error) {
      // Stopping by the caller's signal ends the session; the rows stay for the next leader.
      if (this.publishing.signal.aborted) throw this.publishing.signal.reason;
      return error ?? new MessagingError('PUBLISH_FAILED', `publishing to ${topic} failed`);
    }
  }

  private failed(
    retrying: Map<string, RetryingTopic>,
    topic: string,
    records: OutboxRecord[],
    attempt: number,
    error: unknown,
    oldest: { readonly ageMs: number; readonly at: number },
  ): void {
    const now = this.options.clock.now();
    const already = retrying.get(topic);
    let retryInMs: number;
    if (already && attempt === 1) {
      // Another lane of a topic already waiting for its retry: its rows join, in position order,
      // and go with the next attempt.
      already.records.push(...records);
      already.records.sort(byPosition);
      retryInMs = Math.max(0, already.dueAt - now);
    } else {
      retryInMs = this.options.retryDelay(attempt, already?.retryInMs ?? 0);
      retrying.set(topic, { records, attempt, retryInMs, dueAt: now + retryInMs, oldest });
    }
    this.publishFailures += 1;
    this.lastError = error;
    this.emitter.emit('outbox-publish-failed', {
      outbox: this.source.name,
      topic,
      count: records.length,
      error,
      attempt: already && attempt === 1 ? already.attempt : attempt,
      retryInMs,
    });
  }

  /** Counts and reports publishes whose rows were removed. */
  private reportRemoved(published: readonly LanePublish[]): void {
    const now = this.options.clock.now();
    for (const entry of published) {
      this.count(entry.records.length, now);
      this.emitter.emit('outbox-dispatched', {
        outbox: this.source.name,
        topic: entry.topic,
        count: entry.records.length,
        durationMs: now - entry.read.startedAt,
        lagMs: entry.read.lagMs,
      });
    }
  }

  /**
   * Runs one publish under `publishTimeoutMs`. A hung broker connection would otherwise hold the
   * leadership forever without publishing; on timeout the attempt's signal aborts and the relay
   * moves on even if the transport ignores it (a late success only makes a duplicate, which
   * at-least-once allows — the retry republishes in order).
   */
  private async withTimeout(topic: string, attempt: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const { clock, publishTimeoutMs } = this.options;
    const parent = this.publishing.signal;
    if (parent.aborted) throw parent.reason;
    const controller = new AbortController();
    let timer: unknown;
    let onParentAbort: () => void = () => {};
    // Rejects on timeout or when the caller's signal aborts, whatever the transport does.
    const interrupted = new Promise<never>((_resolve, reject) => {
      onParentAbort = () => {
        controller.abort(parent.reason);
        reject(parent.reason);
      };
      parent.addEventListener('abort', onParentAbort, { once: true });
      timer = clock.setTimeout(() => {
        const error = new OutboxPublishTimeoutError(topic, publishTimeoutMs);
        controller.abort(error);
        reject(error);
      }, publishTimeoutMs);
    });
    // The race's loser may reject later; nobody awaits it.
    interrupted.catch(() => {});
    try {
      await Promise.race([attempt(controller.signal), interrupted]);
    } finally {
      clock.clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    }
  }

  private count(messages: number, now: number): void {
    this.dispatched += messages;
    const second = Math.floor(now / 1000);
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.second === second) last.count += messages;
    else {
      this.buckets.push({ second, count: messages });
      if (this.buckets.length > throughputWindowMs / 1000 + 1) this.buckets.shift();
    }
  }
}

/** A read the relay started and has not looked at yet. */
interface PendingRead {
  readonly startedAt: number;
  readonly claim: Promise<OutboxClaim>;
  /** Accepted publishes whose rows the read removes first, and those rows. */
  readonly removal: readonly LanePublish[];
  readonly removalRecords: readonly OutboxRecord[];
}

/** A topic whose publishing failed: its rows, and when and how often it is tried again. */
interface RetryingTopic {
  readonly records: OutboxRecord[];
  readonly attempt: number;
  /** The delay before this attempt, for decorrelated jitter. */
  readonly retryInMs: number;
  readonly dueAt: number;
  /** Age of the oldest row of the read these rows came from, and when it was read. */
  readonly oldest: { readonly ageMs: number; readonly at: number };
}

/** The relay's lag: the oldest row waiting, whether just read or held by a retrying topic. */
function lagOf(
  claimedAgeMs: number | undefined,
  retrying: ReadonlyMap<string, RetryingTopic>,
  now: number,
): { readonly ageMs: number; readonly at: number } | 'empty' {
  let ageMs = claimedAgeMs;
  for (const topic of retrying.values()) ageMs = Math.max(ageMs ?? 0, topic.oldest.ageMs + (now - topic.oldest.at));
  return ageMs === undefined ? 'empty' : { ageMs, at: now };
}

/** The records of publishes, in one array. */
function recordsOf(published: readonly LanePublish[]): OutboxRecord[] {
  const records: OutboxRecord[] = [];
  for (const entry of published) for (const record of entry.records) records.push(record);
  return records;
}

/** The records' stored JSON, or `undefined` when one of them has none. */
function jsonOf(records: readonly OutboxRecord[]): JsonEnvelope[] | undefined {
  const messages: JsonEnvelope[] = new Array(records.length);
  for (let index = 0; index < records.length; index++) {
    const json = (records[index] as OutboxRecord).json;
    if (json === undefined) return undefined;
    messages[index] = json;
  }
  return messages;
}

/** Position order; positions are decimal integers of any length (PostgreSQL bigint). */
function byPosition(first: OutboxRecord, second: OutboxRecord): number {
  return first.position.length - second.position.length || (first.position < second.position ? -1 : 1);
}
