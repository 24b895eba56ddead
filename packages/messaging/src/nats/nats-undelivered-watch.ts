// A JetStream consumer can hold messages it never delivers: nats-server 2.9 acknowledges publishes
// to a stream whose message files are gone (a stream made again while the server still removed
// the old one's directory, files deleted under a running server) and its consumers then answer
// every pull with nothing, without an error (the server only logs "error looking up message for
// consumer ... no such file or directory"). A subscription sees an idle topic. This watch tells
// the two apart from the consumer's own counters, checked while the subscription's pulls come
// back empty.
import type { Clock } from '@bulwark/resilience';
import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';

/** What a consumer info request says about a group's progress. */
export interface ConsumerProgress {
  /** Messages of the group's subject the consumer has not delivered yet (`num_pending`). */
  readonly pending: number;
  /** The stream sequence of the last message the consumer delivered to anyone (`delivered.stream_seq`). */
  readonly deliveredSeq: number;
}

/** A stall found by {@link UndeliveredTracker}: what the consumer held and since when it delivered none. */
export interface UndeliveredStall {
  readonly pending: number;
  /** When the first check of the stall saw the consumer hold messages (the tracker's clock, ms). */
  readonly since: number;
}

/**
 * Decides from successive checks whether a group's consumer holds messages it does not deliver:
 * pending messages at two checks at least `thresholdMs` apart, no delivery to anyone in between
 * (the consumer's delivered sequence did not move) and none received by the subscription that
 * checks (it was pulling: checks follow pulls that came back empty). Pure, for the property tests.
 *
 * @internal
 */
export class UndeliveredTracker {
  /** The first check of the current episode that saw pending messages. */
  private baseline: { at: number; deliveredSeq: number } | undefined;
  private stall: UndeliveredStall | undefined;

  constructor(private readonly thresholdMs: number) {}

  /** The current stall, if the last check found one and nothing was received since. */
  get stalled(): UndeliveredStall | undefined {
    return this.stall;
  }

  /** The subscription received a message: whatever the checks saw, the consumer delivers. */
  received(): void {
    this.baseline = undefined;
    this.stall = undefined;
  }

  /** Records a check; returns the stall when this check is the one that finds it (once per stall). */
  observe(progress: ConsumerProgress, now: number): UndeliveredStall | undefined {
    if (progress.pending <= 0) {
      this.received();
      return undefined;
    }
    const baseline = this.baseline;
    if (baseline === undefined || progress.deliveredSeq !== baseline.deliveredSeq) {
      this.baseline = { at: now, deliveredSeq: progress.deliveredSeq };
      this.stall = undefined;
      return undefined;
    }
    if (this.stall !== undefined) {
      this.stall = { ...this.stall, pending: progress.pending };
      return undefined;
    }
    if (now - baseline.at < this.thresholdMs) return undefined;
    this.stall = { pending: progress.pending, since: baseline.at };
    return this.stall;
  }
}

/** What {@link watchUndelivered} needs from its subscription and transport. */
export interface UndeliveredWatchContext {
  readonly clock: Clock;
  /** See `undeliveredWarningMs` of the transport's options. */
  readonly thresholdMs: number;
  /** Asks the server for the group consumer's counters (bounded by the transport's timeout). */
  readonly progress: () => Promise<ConsumerProgress>;
  /** A stall was found: report it (once per stall). */
  readonly onStalled: (stall: UndeliveredStall) => void;
}

/** A subscription's watch over its group's consumer. */
export interface UndeliveredWatch {
  /** The subscription received a message. */
  received(): void;
  /** A pull request of the subscription expired without a message: check the consumer when due. */
  pullCameBackEmpty(): void;
  /** The stall found by the last check, if any. */
  readonly stalled: UndeliveredStall | undefined;
}

/**
 * Checks the group's consumer at most every half `thresholdMs` while the subscription's pulls
 * come back empty (an idle subscription costs one consumer info request per half threshold), so a
 * stall is found between `thresholdMs` and 1.5 × `thresholdMs` (plus one pull) after it began.
 *
 * @internal
 */
export function watchUndelivered(context: UndeliveredWatchContext): UndeliveredWatch {
  const tracker = new UndeliveredTracker(context.thresholdMs);
  const intervalMs = context.thresholdMs / 2;
  let lastCheckAt = context.clock.now();
  let checking = false;
  /** Bumped by every received message: a check answered across one is stale. */
  let receipts = 0;

  const check = async () => {
    const before = receipts;
    // A failed request is no finding: the pulls report a server that does not answer.
    const progress = await context.progress().catch(() => undefined);
    if (progress === undefined || receipts !== before) return;
    const found = tracker.observe(progress, context.clock.now());
    if (found) context.onStalled(found);
  };

  return {
    received() {
      receipts += 1;
      tracker.received();
    },
    pullCameBackEmpty() {
      const now = context.clock.now();
      if (checking || now - lastCheckAt < intervalMs) return;
      checking = true;
      lastCheckAt = now;
      void check()
        .catch(() => {}) // a throwing listener must not become an unhandled rejection
        .finally(() => {
          checking = false;
        });
    },
    get stalled() {
      return tracker.stalled;
    },
  };
}

/**
 * Whether the stream says it holds messages and cannot read the first of them: its files are
 * gone (what a stall looks like on nats-server 2.9). Asked twice, so that a first message removed
 * meanwhile (acked by every group) does not count.
 *
 * @internal
 */
export async function streamCannotReadItsMessages(manager: JetStreamManager, stream: string): Promise<boolean> {
  const before = await manager.streams.info(stream);
  if (before.state.messages === 0) return false;
  const first = await manager.streams
    .getMessage(stream, { seq: before.state.first_seq })
    // The server answering with an error (it cannot open the message's file) is the finding itself.
    .catch((error: unknown) => (error instanceof JetStreamApiError ? null : Promise.reject(error)));
  if (first !== null) return false;
  const after = await manager.streams.info(stream);
  return after.state.messages > 0 && after.state.first_seq === before.state.first_seq;
}
