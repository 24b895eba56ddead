import { type Clock, delay } from '@bulwark/resilience';
import type {
  ConsumeCallback,
  Consumer,
  ConsumerMessages,
  FetchMessages,
  JetStreamClient,
  JsMsg,
} from '@nats-io/jetstream';
import type { Envelope } from '../envelope/envelope.js';
import type { Serializer } from '../envelope/serializer.js';
import type { ConnectionHealthTracker } from '../transport/connection-health.js';
import { settledWithin } from '../transport/in-flight.js';
import type { CloseSubscriptionOptions, DeliveryHandler, Subscription } from '../transport/transport.js';
import { NatsDelivery } from './nats-delivery.js';
import type { UndeliveredWatch } from './nats-undelivered-watch.js';

/** What {@link startNatsSubscription} needs from its transport. */
export interface NatsSubscriptionContext {
  readonly js: JetStreamClient;
  readonly stream: string;
  readonly consumerName: string;
  readonly topic: string;
  readonly group: string;
  readonly handler: DeliveryHandler;
  readonly prefetch: number;
  readonly serializer: Serializer;
  readonly clock: Clock;
  readonly backoffMs: (failures: number) => number;
  readonly pullExpiresMs: number;
  readonly visibilityTimeoutMs: number;
  readonly closeDeadlineMs: number;
  readonly report: (code: string, message: string, cause?: unknown) => void;
  readonly health: ConnectionHealthTracker;
  /** Told of every message received and every pull that came back empty. */
  readonly watch: UndeliveredWatch;
  /** Creates the group's consumer again (the server lost it, or the stream was recreated). */
  readonly recreate: () => Promise<void>;
  /** A pull failed: publishes to the topic must check again that a group receives it (it may be deleted). */
  readonly onPullFailed: () => void;
  readonly onClosed: () => void;
}

/** A pull request sent and not over yet. */
interface OpenPull {
  /** Messages it may still bring. */
  expected: number;
  /** Whether it brought any message. */
  brought: boolean;
  /** Set once the client returned it; a closing subscription stops it. */
  batch: ConsumerMessages | undefined;
}

/** Slack for the server's clock and the request's travel before its pull request counts as expired. */
const pullExpiryMarginMs = 100;

/**
 * One member of a consumer group: pulls from the group's durable consumer so that no more than
 * `prefetch` deliveries are unsettled at once (the client's own `consume()` refills by what it
 * received, not by what was settled, so it cannot bound the handlers), runs the handler for each,
 * and acks or naks.
 *
 * Pull requests are short (`pullExpiresMs`) and a closing subscription gives its unsettled
 * deliveries back only once its last pull request has expired on the server: a nak while a pull
 * request of an unsubscribed inbox is still waiting makes NATS 2.9 hand the message to that dead
 * request (back only after ack_wait) and deliver another one twice.
 *
 * @internal
 */
export function startNatsSubscription(context: NatsSubscriptionContext): Subscription {
  const { clock, prefetch } = context;
  const leaving = new AbortController();
  /** Deliveries whose handler still runs (a close waits for them). */
  const inFlight = new Set<NatsDelivery>();
  /** Deliveries handed out and not settled yet: what the prefetch bounds. */
  let unsettled = 0;
  /** Open pull requests, with how many messages each may still bring. */
  const pulls = new Set<OpenPull>();
  /** When the last pull request sent expires on the server. */
  let pullsEndAt = 0;
  let wake: (() => void) | undefined;
  const nudge = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  /** A pull ended on an error: the consumer (or its stream) may be gone, so make sure of it first. */
  let checkConsumer = false;
  const outstanding = () => {
    let sum = 0;
    for (const pull of pulls) sum += pull.expected;
    return sum;
  };
  /** The group's consumer, once looked up (again after a failure). */
  let consumer: Consumer | undefined;
  /** Pulls in a row that ended on an error; the pump backs off by it. */
  let failures = 0;
  let closing: Promise<void> | undefined;

  const onMessage = (raw: JsMsg) => {
    context.watch.received();
    if (leaving.signal.aborted) {
      // Arrived after close began: straight back to the group.
      raw.nak();
      return;
    }
    let message: Envelope;
    try {
      message = context.serializer.deserialize(raw.data);
    } catch (error) {
      context.report(
        'UNREADABLE_MESSAGE',
        `A message of ${context.topic} for group ${context.group} cannot be deserialized; terminated (not redelivered)`,
        error,
      );
      raw.term();
      return;
    }
    const delivery = new NatsDelivery(message, raw, clock, context.visibilityTimeoutMs, onSettled);
    unsettled += 1;
    inFlight.add(delivery);
    delivery.task = runHandler(delivery);
  };

  /** A delivery was settled (or its settle came too late): its slot is free. */
  const onSettled = () => {
    unsettled -= 1;
    // Nothing else out and no pull open (one at a time, as at prefetch 1): nothing to gather
    // with, so pull now, in the socket write of its ack and before the next message is
    // published, rather than a few turns later from the pump in a write of its own (3 writes
    // per message instead of 2). Otherwise the pump gathers the slots a burst frees.
    const idle = unsettled === 0 && outstanding() === 0 && wake !== undefined;
    if (idle && consumer && failures === 0 && !checkConsumer && !leaving.signal.aborted) {
      startPull(consumer, prefetch).catch(pullNotStarted);
      return;
    }
    nudge();
  };

  /** Runs the handler; acks when it resolves, nacks when it rejects (unless it settled itself). */
  const runHandler = async (delivery: NatsDelivery): Promise<void> => {
    try {
      try {
        await context.handler(delivery);
      } catch {
        await delivery.nack();
        return;
      }
      await delivery.ack();
    } finally {
      inFlight.delete(delivery);
    }
  };

  /** Waits for one pull request to end; resolves true when it ended on an error. */
  const drain = async (batch: ConsumerMessages, pull: OpenPull): Promise<boolean> => {
    try {
      const ended = await batch.closed();
      if (ended instanceof Error) throw ended;
      if (!pull.brought && !leaving.signal.aborted) context.watch.pullCameBackEmpty();
      return false;
    } catch (error) {
      checkConsumer = true;
      context.onPullFailed();
      if (!leaving.signal.aborted) {
        context.health.failed(error);
        context.report(
          'PULL_FAILED',
          `Pulling ${context.topic} for group ${context.group} failed; pulling again`,
          error,
        );
      }
      return true;
    } finally {
      pulls.delete(pull);
      nudge();
    }
  };

  const stopPulls = () => {
    for (const pull of pulls) pull.batch?.stop();
  };

  /** Sends a pull request for `free` messages; resolves once the client took it, rejects if it cannot. */
  const startPull = async (from: Consumer, free: number): Promise<void> => {
    pullsEndAt = clock.now() + context.pullExpiresMs;
    const pull: OpenPull = { expected: free, brought: false, batch: undefined };
    // A callback, not the iterator: the client hands over each message as it parses the socket
    // read, so the acks of handlers that settle at once leave in one write (the iterator yields
    // one message per microtask turn, after the client's flush: one write per ack, 1.13 writes
    // per message against 0.13 at 32 in flight). The client implements `callback` for fetch as
    // for consume; its FetchOptions type leaves it out.
    const options: FetchMessages & ConsumeCallback = {
      max_messages: free,
      expires: context.pullExpiresMs,
      callback: (raw) => {
        pull.expected = Math.max(0, pull.expected - 1);
        pull.brought = true;
        onMessage(raw);
      },
    };
    pulls.add(pull);
    let batch: ConsumerMessages;
    try {
      // The request is written before this returns: the client's fetch does not await for a
      // plain (not ordered) consumer.
      batch = await from.fetch(options);
    } catch (error) {
      pulls.delete(pull);
      throw error;
    }
    pull.batch = batch;
    if (leaving.signal.aborted) batch.stop();
    void drain(batch, pull).then((failed) => {
      if (failed) failures += 1;
      else if (failures > 0) {
        failures = 0;
        context.health.succeeded();
      }
    });
  };

  /** A pull could not be sent (or its consumer looked up): degraded, with a warning. */
  const reportNotPulling = (error: unknown) => {
    context.health.failed(error);
    context.report(
      'SUBSCRIPTION_FAILED',
      `Pulling ${context.topic} for group ${context.group} failed; retrying`,
      error,
    );
  };

  /** A pull started outside the pump could not start: the pump makes sure of the consumer, then pulls. */
  const pullNotStarted = (error: unknown) => {
    if (leaving.signal.aborted) return;
    checkConsumer = true;
    reportNotPulling(error);
    nudge();
  };

  const pump = async () => {
    while (!leaving.signal.aborted) {
      // Let the settles of one burst land before sizing the next pull: one pull for many free
      // slots rather than one per slot (each pull is a subscription and a request).
      if (unsettled > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const free = prefetch - unsettled - outstanding();
      // A new pull for every free slot (those freed by one burst are counted together, above): a
      // slot left waiting for others is a message left on the server, fewer in flight than the
      // prefetch. At idle nothing is freed: the open pull holds every slot until it expires.
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      try {
        if (checkConsumer) {
          checkConsumer = false;
          consumer = undefined;
          await context.recreate();
        }
        // `bind`: no consumer info request per pull; a missing consumer shows as a failed pull.
        consumer ??= await context.js.consumers.get(context.stream, context.consumerName);
        await startPull(consumer, free);
        // Let the pull report how it ended before deciding on the next, after failures only.
        if (failures > 0) {
          await delay(clock, context.backoffMs(failures - 1), leaving.signal).catch(() => {});
        }
      } catch (error) {
        if (leaving.signal.aborted) break;
        failures += 1;
        consumer = undefined;
        reportNotPulling(error);
        await delay(clock, context.backoffMs(failures - 1), leaving.signal).catch(() => {});
        // The group's consumer may be gone (a server that lost its store, a deleted stream).
        checkConsumer = true;
      }
    }
  };
  const pumping = pump().catch((error: unknown) =>
    context.report('SUBSCRIPTION_FAILED', `The subscription to ${context.topic} stopped`, error),
  );

  const subscription: Subscription = {
    topic: context.topic,
    group: context.group,
    close(closeOptions?: CloseSubscriptionOptions) {
      closing ??= (async () => {
        leaving.abort();
        const hadPulls = pulls.size > 0;
        stopPulls();
        nudge();
        // Not awaited: a pump waiting on a server request that a lost connection never answers
        // ends on its own once the request times out, and takes nothing after the abort.
        void pumping;
        await settledWithin(
          clock,
          [...inFlight].map((entry) => entry.task as Promise<void>),
          closeOptions?.deadlineMs ?? context.closeDeadlineMs,
        );
        const unsettled = [...inFlight].some((entry) => !entry.settled);
        // See above: no nak while a pull request of this subscription may still wait on the server.
        if (unsettled && hadPulls) await delay(clock, pullsEndAt - clock.now() + pullExpiryMarginMs);
        // Past the deadline: what is still held goes back to the group now, not after ack_wait.
        for (const delivery of inFlight) delivery.giveBack();
        context.onClosed();
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}
