import { abortable, delay, within } from '@bulwark/resilience';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Envelope } from '../envelope/envelope.js';
import { settledWithin } from '../transport/in-flight.js';
import type { CloseSubscriptionOptions, Delivery, DeliveryHandler, Subscription } from '../transport/transport.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import { AmqpAckBatcher } from './amqp-ack-batcher.js';
import { BrokerTimeoutError } from './amqp-broker-errors.js';
import { type AmqpConnection, channelWithin } from './amqp-connection.js';
import { delayBucketMs } from './amqp-delay-bucket.js';
import { type AmqpPublisher, deliveriesHeader } from './amqp-publisher.js';
import type { AmqpTopology } from './amqp-topology.js';
import { type AmqpSettings, amqpTransportDefaults } from './amqp-transport-options.js';

/** Headers of a delivery that carries none (read-only, shared). */
const noHeaders: Readonly<Record<string, unknown>> = Object.freeze({});

/** What a settle returns when there is nothing (left) to write. */
const alreadySettled: Promise<void> = Promise.resolve();

/** What a subscription uses of its transport. */
export interface AmqpSubscriptionParts {
  readonly settings: AmqpSettings;
  readonly connection: AmqpConnection;
  readonly publisher: AmqpPublisher;
  readonly topology: AmqpTopology;
  /** Releases the delayed messages held for a topic to the groups bound now. */
  releaseHeld(topic: string): Promise<void>;
  /** Called once the subscription closed. */
  onClosed(subscription: Subscription): void;
}

/**
 * One subscription: a channel with `prefetch` consuming the group's queue with manual acks,
 * re-attached with backoff whenever the channel or the connection goes, until it closes.
 */
export async function startAmqpSubscription(
  parts: AmqpSubscriptionParts,
  topic: string,
  group: string,
  handler: DeliveryHandler,
  prefetch: number,
  signal: AbortSignal | undefined,
): Promise<Subscription> {
  const { settings, connection, publisher, topology } = parts;
  const { clock, report, operationTimeoutMs, serializer, queueType } = settings;
  const queue = topology.queueOf(topic, group);
  const leaving = new AbortController();
  /**
   * Handlers running, with the settle that follows each. A count, not a set of per-delivery
   * entries: the ack batcher already tracks each delivery until it is settled, and `close` only
   * needs to know when the last handler is done.
   */
  let running = 0;
  /** Resolves the wait of a closing subscription once `running` is zero. */
  let drained: (() => void) | undefined;
  const handlerFinished = () => {
    running -= 1;
    if (running === 0) drained?.();
  };
  let channel: Channel | undefined;
  /** The acks of `channel`, written together. */
  let acks: AmqpAckBatcher | undefined;
  let consumerTag: string | undefined;
  let closing: Promise<void> | undefined;

  const onMessage = (from: Channel, batcher: AmqpAckBatcher, raw: ConsumeMessage) => {
    let message: Envelope;
    try {
      message = serializer.deserialize(raw.content);
    } catch (error) {
      report('UNREADABLE_MESSAGE', `A message on ${queue} cannot be deserialized; rejected without requeue`, error);
      // Rejected without requeue: dropped, or dead-lettered if the queue has a dead-letter exchange.
      try {
        from.nack(raw, false, false);
      } catch {
        // Channel gone: the broker redelivers it, and this runs again.
      }
      batcher.settledOtherwise(raw.fields.deliveryTag);
      return;
    }
    const headers = raw.properties.headers ?? noHeaders;
    const carried = Number(headers[deliveriesHeader]) || 0;
    const brokerRedeliveries =
      queueType === 'quorum' ? Number(headers['x-delivery-count']) || 0 : raw.fields.redelivered ? 1 : 0;
    let settled = false;
    const delivery: Delivery = {
      message,
      deliveryCount: carried + brokerRedeliveries + 1,
      // Not async: a settle is asked for twice per delivery (by the handler, then after it), and
      // the second needs no promise of its own.
      ack: () => {
        if (settled) return alreadySettled;
        settled = true;
        // Settling on a channel that closed meanwhile does nothing: the broker redelivers the message.
        if (channel !== from) return alreadySettled;
        return batcher.ack(raw);
      },
      nack: async (nackOptions) => {
        if (settled) return;
        settled = true;
        if (channel !== from) return;
        const delayMs = delayBucketMs(Math.max(0, Math.ceil(nackOptions?.delayMs ?? 0)));
        const deliveries = delivery.deliveryCount;
        try {
          if (delayMs === 0) {
            await publisher.publishReliably([publisher.outgoing(message, '', queue, deliveries)], undefined);
          } else {
            const delayQueue = `${queue}:delay:${delayMs}`;
            await publisher.publishReliably(
              [publisher.outgoing(message, '', delayQueue, deliveries)],
              undefined,
              async (confirm) => {
                await topology.assertDelayQueue(confirm, delayQueue, delayMs, { exchange: '', routingKey: queue });
              },
            );
          }
        } catch (error) {
          // The copy may not exist: requeue the original instead (its count then grows by the broker's rules).
          report('NACK_FAILED', `Republishing a nacked message to ${queue} failed; requeued instead`, error);
          try {
            from.nack(raw, false, true);
          } catch {
            // Channel gone: the broker redelivers it.
          }
          batcher.settledOtherwise(raw.fields.deliveryTag);
          return;
        }
        // Channel gone meanwhile: the original comes back too (at-least-once: a duplicate, never a loss).
        await batcher.ack(raw);
      },
    };
    let handled: Promise<void>;
    running += 1;
    try {
      handled = Promise.resolve(handler(delivery));
    } catch (error) {
      handled = Promise.reject(error);
    }
    // One reaction per delivery, not an async function around `await`s. An ack is queued in the
    // batcher synchronously, so the handler counts as finished right away (a closing subscription
    // flushes what is queued); a nack republishes first, and finishes when that is done.
    handled.then(
      () => {
        if (!settled) void delivery.ack();
        handlerFinished();
      },
      () => delivery.nack().then(handlerFinished, handlerFinished),
    );
  };

  const timedOut = () =>
    new BrokerTimeoutError(`The broker did not start the consumer on ${queue} within ${operationTimeoutMs} ms`);

  /** Opens a channel, declares the group's topology and starts consuming. */
  const attach = async () => {
    // Waits for a connection as long as it takes (a factory reconnects); what follows is bounded.
    const live = await connection.live();
    const made = await channelWithin(settings, live.createChannel(), timedOut);
    const batcher = new AmqpAckBatcher(made, () => channel === made);
    made.on('error', (error: unknown) => report('CHANNEL_FAILED', `The channel consuming ${queue} failed`, error));
    /** Gives up on `made`: a channel the broker stopped answering on is closed without waiting. */
    const discard = () => {
      if (channel === made) {
        channel = undefined;
        acks = undefined;
        consumerTag = undefined;
      }
      void made.close().catch(() => {});
    };
    try {
      await within(
        clock,
        (async () => {
          await made.prefetch(prefetch, false);
          await topology.declareGroup(made, topic, group);
        })(),
        operationTimeoutMs,
        timedOut,
      );
    } catch (error) {
      discard();
      throw error;
    }
    if (leaving.signal.aborted) {
      discard();
      return;
    }
    channel = made;
    acks = batcher;
    made.once('close', () => {
      if (channel !== made) return;
      channel = undefined;
      acks = undefined;
      consumerTag = undefined;
      // Deliveries of this channel are back with the broker: their settles no longer count.
      if (!leaving.signal.aborted) void reattach();
    });
    try {
      // A quorum queue without a leader (e.g. just after a broker restart) leaves basic.consume unanswered.
      const reply = await within(
        clock,
        made.consume(
          queue,
          (raw) => {
            if (raw) {
              batcher.received(raw.fields.deliveryTag);
              onMessage(made, batcher, raw);
            }
            // null: the broker cancelled the consumer (queue deleted); a new channel re-declares it.
            else if (channel === made) void made.close().catch(() => {});
          },
          { noAck: false },
        ),
        operationTimeoutMs,
        timedOut,
      );
      if (channel === made) consumerTag = reply.consumerTag;
    } catch (error) {
      discard();
      throw error;
    }
    // On every attach, so what a failed release left held goes out on the next one.
    await parts.releaseHeld(topic).catch((error: unknown) => {
      if (!(error instanceof TransportClosedError))
        report('RELEASE_FAILED', `Releasing the delayed messages held for topic ${topic} failed`, error);
    });
  };

  /** Attaches again with backoff until it works or the subscription closes; one loop at a time. */
  let resuming: Promise<void> | undefined;
  const reattach = (): Promise<void> => {
    resuming ??= (async () => {
      for (let failures = 0; !leaving.signal.aborted && !channel; failures++) {
        await delay(clock, connection.backoffMs(failures), leaving.signal).catch(() => {});
        if (leaving.signal.aborted) return;
        try {
          await attach();
        } catch (error) {
          if (error instanceof TransportClosedError) return;
          report('SUBSCRIPTION_FAILED', `Resuming the subscription to ${queue} failed; retrying`, error);
        }
      }
    })().finally(() => {
      resuming = undefined;
      // A channel lost between the last check and now still needs a loop.
      if (!connection.closed && !leaving.signal.aborted && !channel) void reattach();
    });
    return resuming;
  };

  // While the broker is unreachable this waits for it (a factory reconnects), unless `signal` aborts.
  const attaching = attach();
  try {
    await abortable(attaching, signal);
  } catch (error) {
    leaving.abort();
    // Aborted while attaching: close whatever channel the attach still opens.
    void attaching.then(
      () => channel?.close().catch(() => {}),
      () => {},
    );
    throw error;
  }

  const subscription: Subscription = {
    topic,
    group,
    close(closeOptions?: CloseSubscriptionOptions) {
      closing ??= (async () => {
        leaving.abort();
        const from = channel;
        if (from && consumerTag) await from.cancel(consumerTag).catch(() => {});
        if (running > 0) {
          const allFinished = new Promise<void>((resolve) => {
            drained = resolve;
          });
          await settledWithin(clock, [allFinished], closeOptions?.deadlineMs ?? amqpTransportDefaults.closeDeadlineMs);
        }
        // Acks asked for before now are written before the channel closes; with `channel` cleared
        // in the same turn, a handler still running past the deadline settles nothing any more.
        acks?.flush();
        channel = undefined;
        acks = undefined;
        // Closing the channel gives every unacked delivery back to the broker.
        await from?.close().catch(() => {});
        parts.onClosed(subscription);
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return subscription;
}
