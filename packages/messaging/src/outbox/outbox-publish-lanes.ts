import type { OutboxRecord } from './outbox.js';

/** When a batch was read and how far behind the relay was then, for the `outbox-dispatched` event. */
export interface OutboxRead {
  readonly startedAt: number;
  readonly lagMs: number;
}

/** Records of one lane that went out (or failed) together in one publish call. */
export interface LanePublish {
  readonly topic: string;
  readonly records: readonly OutboxRecord[];
  /** The read of the oldest record of the call. */
  readonly read: OutboxRead;
}

/** What the lanes ask of the relay that drives them. */
export interface PublishLaneHooks {
  /** One attempt at publishing `records` to `topic`; resolves the error if it failed, rejects to stop the session. */
  publish(topic: string, records: readonly OutboxRecord[]): Promise<unknown>;
  /** The transport accepted `publish`: its rows may be removed. */
  accepted(publish: LanePublish): void;
  /** The transport refused `publish` with `error`; its records have already left the lanes. */
  failed(publish: LanePublish, error: unknown): void;
  /** A publish settled: the relay may read more or finish stopping. */
  settled(): void;
}

interface Lane {
  readonly topic: string;
  readonly queue: { readonly record: OutboxRecord; readonly read: OutboxRead }[];
  busy: boolean;
}

/**
 * Publishes read records with up to `concurrency` publish calls in flight, split into lanes by
 * topic and key: a lane publishes only once its previous call was accepted, and a key always takes
 * the same lane, so a message of a key never goes out before an earlier message of that key was
 * accepted, while different keys go out side by side. Messages without a key take one lane per
 * topic, so they keep their order among themselves as they did when a topic went out in one call.
 *
 * Also the relay's account of every record it read and has not removed yet (`held`): a store that
 * reads ahead leaves these out of its next read.
 */
export class PublishLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly held = new Map<string, OutboxRecord>();
  private readonly running = new Set<Promise<void>>();
  private inFlight = 0;

  constructor(
    private readonly concurrency: number,
    /** Records per publish call, at most. */
    private readonly maxPerPublish: number,
    private readonly hooks: PublishLaneHooks,
  ) {}

  /** Records read and not yet removed (queued, being published, or waiting to be removed). */
  get heldCount(): number {
    return this.held.size;
  }

  heldRecords(): OutboxRecord[] {
    return [...this.held.values()];
  }

  /** Queues freshly read records (in position order) and starts what may start. */
  add(records: readonly OutboxRecord[], read: OutboxRead): void {
    for (const record of records) {
      this.held.set(record.position, record);
      const id = laneId(record, this.concurrency);
      let lane = this.lanes.get(id);
      if (!lane) {
        lane = { topic: topicOf(record), queue: [], busy: false };
        this.lanes.set(id, lane);
      }
      lane.queue.push({ record, read });
    }
    this.pump();
  }

  /** Forgets records that were removed from the store (or handed to a retry). */
  release(records: readonly OutboxRecord[]): void {
    for (const record of records) this.held.delete(record.position);
  }

  /**
   * Drops the queued (not yet published) records of `topic`, or of every topic: they stay in the
   * store and are read again later, behind whatever of their keys is retried first.
   */
  dropQueued(topic?: string): void {
    for (const [id, lane] of this.lanes) {
      if (topic !== undefined && lane.topic !== topic) continue;
      for (const entry of lane.queue.splice(0)) this.held.delete(entry.record.position);
      if (!lane.busy) this.lanes.delete(id);
    }
  }

  /** Settles once every publish in flight has settled. */
  async settledAll(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private pump(): void {
    for (const [id, lane] of this.lanes) {
      if (this.inFlight >= this.concurrency) return;
      if (lane.busy) continue;
      if (lane.queue.length === 0) {
        this.lanes.delete(id);
        continue;
      }
      this.start(id, lane);
    }
  }

  private start(id: string, lane: Lane): void {
    const entries = lane.queue.splice(0, this.maxPerPublish);
    const records = entries.map((entry) => entry.record);
    const publish: LanePublish = { topic: lane.topic, records, read: (entries[0] as (typeof entries)[0]).read };
    lane.busy = true;
    this.inFlight += 1;
    const run = this.hooks.publish(lane.topic, records).then(
      (error) => {
        this.settle(id, lane);
        if (error === undefined) this.hooks.accepted(publish);
        else {
          this.release(records);
          // Nothing newer of this topic may overtake the failed records: its queue goes back to the store.
          this.dropQueued(lane.topic);
          this.hooks.failed(publish, error);
        }
        this.pump();
        this.hooks.settled();
      },
      () => {
        // The session is ending (the caller's signal aborted): the rows stay for the next leader.
        this.settle(id, lane);
        this.release(records);
        this.hooks.settled();
      },
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  private settle(id: string, lane: Lane): void {
    lane.busy = false;
    this.inFlight -= 1;
    if (lane.queue.length === 0 && this.lanes.get(id) === lane) this.lanes.delete(id);
  }
}

/** The lane of a record: its topic and, when it has a key, a hash of the key over `lanesPerTopic`. */
function laneId(record: OutboxRecord, lanesPerTopic: number): string {
  const { key, topic } = record.json ?? record.message;
  const index = key === undefined || lanesPerTopic === 1 ? 0 : fnv1a(key) % lanesPerTopic;
  return `${index}\u0000${topic}`;
}

/** The topic of a record, read without parsing its message where the store gave its JSON text. */
export function topicOf(record: OutboxRecord): string {
  return (record.json ?? record.message).topic;
}

/** 32-bit FNV-1a: cheap, and spreads short keys such as `order-17` evenly. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
