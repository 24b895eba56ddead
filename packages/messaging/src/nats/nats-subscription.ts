import { type Clock, delay } from '@bulwark/resilience';
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Envelope } from '../envelope/envelope.js';
import type { Serializer } from '../envelope/serializer.js';
import type { ConnectionHealthTracker } from '../transport/connection-health.js';
import { settledWithin } from '../transport/in-flight.js';
import type { CloseSubscriptionOptions, Delivery, DeliveryHandler, Subscription } from '../transport/transport.js';

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
  /** Creates the group's consumer again (the server lost it, or the stream was recreated). */
  readonly recreate: () => Promise<void>;
  /** A pull failed: publishes to the topic must check again that a group receives it (it may be deleted). */
  readonly onPullFailed: () => void;
  readonly onClosed: () => void;
}

/** Slack for the server's clock and the request's travel before its pull request counts as expired. */
const pullExpiryMarginMs = 100;

interface InFlight {
  settled: boolean;
  task?: Promise<void>;
  readonly message: JsMsg;
}

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
  const inFlight = new Set<InFlight>();
  /** Open pull requests, with how many messages each may still bring. */
  const pulls = new Map<ConsumerMessages, { expected: number }>();
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
  const outstanding = () => [...pulls.values()].reduce((sum, pull) => sum + pull.expected, 0);
  let closing: Promise<void> | undefined;

  const onMessage = (raw: JsMsg) => {
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
    const deliveredAt = clock.now();
    const state: InFlight = { settled: false, message: raw };
    /** Past the visibility timeout the server has given the message to another member: settling does nothing. */
    const takenBack = () => clock.now() - deliveredAt >= context.visibilityTimeoutMs;
    const delivery: Delivery = {
      message,
      deliveryCount: raw.info.deliveryCount,
      ack: async () => {
        if (state.settled) return;
        state.settled = true;
        if (takenBack()) return;
        raw.ack();
      },
      nack: async (nackOptions) => {
        if (state.settled) return;
        state.settled = true;
        if (takenBack()) return;
        const delayMs = Math.max(0, Math.ceil(nackOptions?.delayMs ?? 0));
        raw.nak(delayMs > 0 ? delayMs : undefined);
      },
    };
    inFlight.add(state);
    state.task = (async () => {
      try {
        await context.handler(delivery);
      } catch {
        await delivery.nack();
        return;
      }
      await delivery.ack();
    })().finally(() => {
      inFlight.delete(state);
      nudge();
    });
  };

  /** Reads one pull request to its end; resolves true when it ended on an error. */
  const drain = async (batch: ConsumerMessages, pull: { expected: number }): Promise<boolean> => {
    try {
      for await (const raw of batch) {
        pull.expected = Math.max(0, pull.expected - 1);
        onMessage(raw);
      }
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
      pulls.delete(batch);
      nudge();
    }
  };

  const stopPulls = () => {
    for (const batch of pulls.keys()) batch.stop();
  };

  const pump = async () => {
    let consumer: Consumer | undefined;
    let failures = 0;
    while (!leaving.signal.aborted) {
      // Let the settles of one burst land before sizing the next pull: one pull for many free
      // slots rather than one per slot (each pull is a subscription and a request).
      if (inFlight.size > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const free = prefetch - inFlight.size - outstanding();
      // A new pull when none is open, or once half the prefetch is free: fewer tiny requests at idle.
      if (free <= 0 || (pulls.size > 0 && free < Math.ceil(prefetch / 2))) {
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
        pullsEndAt = clock.now() + context.pullExpiresMs;
        const batch = await consumer.fetch({ max_messages: free, expires: context.pullExpiresMs });
        const pull = { expected: free };
        pulls.set(batch, pull);
        if (leaving.signal.aborted) batch.stop();
        void drain(batch, pull).then((failed) => {
          if (failed) failures += 1;
          else if (failures > 0) {
            failures = 0;
            context.health.succeeded();
          }
        });
        // Let the pull report how it ended before deciding on the next, after failures only.
        if (failures > 0) {
          await delay(clock, context.backoffMs(failures - 1), leaving.signal).catch(() => {});
        }
      } catch (error) {
        if (leaving.signal.aborted) break;
        failures += 1;
        consumer = undefined;
        context.health.failed(error);
        context.report(
          'SUBSCRIPTION_FAILED',
          `Pulling ${context.topic} for group ${context.group} failed; retrying`,
          error,
        );
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
        for (const entry of inFlight) {
          if (entry.settled) continue;
          entry.settled = true;
          entry.message.nak();
        }
        context.onClosed();
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}
