// NATS 2.9 (Debian's, and many deployments) has no scheduled messages, so a delayed publish waits
// on one subject of the stream, read by one durable consumer that every transport of the stream
// shares. A mover naks what is not due yet with the time left, and publishes what is due to its
// topic (deduplicated by the message's `Nats-Msg-Id`) before acking it: a crash between the two
// moves it again, stored once.
import { type Clock, delay } from '@bulwark/resilience';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { ConnectionHealthTracker } from '../transport/connection-health.js';
import { deduplicationId, delayedConsumerName } from './nats-subjects.js';

/** Header of a delayed publish: the subject it is moved to. */
export const targetSubjectHeader = 'Bulwark-Target-Subject';
/** Header of a delayed publish: its topic (base64url), for the deduplication id of the moved copy. */
export const targetTopicHeader = 'Bulwark-Target-Topic';
/** Header of a delayed publish: when it is due, in ms since the epoch on the publisher's clock. */
export const notBeforeHeader = 'Bulwark-Not-Before';
/** Header carrying the envelope's id (base64url), for the moved copy's deduplication id without parsing the body. */
export const messageIdHeader = 'Bulwark-Message-Id';

/** What {@link startDelayMover} needs from its transport. */
export interface DelayMoverContext {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly clock: Clock;
  readonly backoffMs: (failures: number) => number;
  readonly pullExpiresMs: number;
  readonly operationTimeoutMs: number;
  readonly report: (code: string, message: string, cause?: unknown) => void;
  readonly health: ConnectionHealthTracker;
  /** Creates the stream and the delayed publishes' consumer again if they are gone. */
  readonly recreate: () => Promise<void>;
}

/** How many delayed messages one mover handles at once. */
const moverBatch = 64;

/**
 * Starts moving due delayed publishes to their topics until `stop()`.
 *
 * @internal
 */
export function startDelayMover(context: DelayMoverContext): { stop(): Promise<void> } {
  const { clock } = context;
  const stopping = new AbortController();
  let current: { stop(): void } | undefined;

  const move = async (raw: JsMsg) => {
    const target = raw.headers?.get(targetSubjectHeader);
    const topic = Buffer.from(raw.headers?.get(targetTopicHeader) ?? '', 'base64url').toString('utf8');
    const encodedId = raw.headers?.get(messageIdHeader);
    const id = encodedId ? Buffer.from(encodedId, 'base64url').toString('utf8') : undefined;
    const due = Number(raw.headers?.get(notBeforeHeader));
    if (!target || !id || !Number.isFinite(due)) {
      context.report('UNREADABLE_MESSAGE', 'A delayed publish has no target, id or due time; terminated');
      raw.term();
      return;
    }
    const wait = due - clock.now();
    if (wait > 0) {
      raw.nak(wait);
      return;
    }
    const sent = headers();
    const contentType = raw.headers?.get('Content-Type');
    if (contentType) sent.set('Content-Type', contentType);
    try {
      await context.js.publish(target, raw.data, {
        msgID: deduplicationId(topic, id),
        headers: sent,
        timeout: context.operationTimeoutMs,
      });
    } catch (error) {
      context.report('DELAYED_PUBLISH_FAILED', `Moving a delayed message to ${target} failed; retried`, error);
      raw.nak(context.backoffMs(0));
      return;
    }
    raw.ack();
  };

  const run = async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        const consumer = await context.js.consumers.get(context.stream, delayedConsumerName);
        const batch = await consumer.fetch({ max_messages: moverBatch, expires: context.pullExpiresMs });
        current = batch;
        if (stopping.signal.aborted) batch.stop();
        const moves: Promise<void>[] = [];
        for await (const raw of batch) moves.push(move(raw));
        await Promise.all(moves);
        failures = 0;
      } catch (error) {
        if (stopping.signal.aborted) break;
        context.health.failed(error);
        context.report('DELAY_MOVER_FAILED', 'Pulling delayed publishes failed; retrying', error);
        await delay(clock, context.backoffMs(failures), stopping.signal).catch(() => {});
        failures += 1;
        // A deleted stream or consumer fails every pull until it is created again.
        await context.recreate().catch(() => {});
      }
    }
  };
  const running = run();

  return {
    async stop() {
      stopping.abort();
      current?.stop();
      // Not awaited: a request the lost connection never answers ends with its own timeout.
      void running;
    },
  };
}
