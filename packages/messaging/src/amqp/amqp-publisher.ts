import { abortable, delay, type TimerHandle, within } from '@bulwark/resilience';
import type { ConfirmChannel, Options } from 'amqplib';
import type { Envelope } from '../envelope/envelope.js';
import type { JsonEnvelope } from '../envelope/json-envelope.js';
import { serializeToPublish } from '../envelope/serializer.js';
import { MessagingError } from '../errors/messaging-error.js';
import { TransportClosedError, UnroutableMessageError } from '../transport/transport-errors.js';
import { BrokerRefusedError, BrokerReturnedError, BrokerTimeoutError } from './amqp-broker-errors.js';
import { AmqpConfirmBatch, type Unconfirmed } from './amqp-confirm-batch.js';
import type { AmqpConnection } from './amqp-connection.js';
import { fitsShortString } from './amqp-short-string.js';
import type { AmqpSettings } from './amqp-transport-options.js';

/** Header carrying how many deliveries came before this copy (nacks republish the message). */
export const deliveriesHeader = 'x-bulwark-deliveries';

/**
 * Header that earlier versions put on every send to match a `basic.return` to its message; a
 * message held since then may still carry it.
 */
export const publishTagHeader = 'x-bulwark-publish-tag';

/** A message ready to send: where to, the body and its AMQP properties (sent as they are). */
export interface OutgoingMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/** What a `basic.return` tells of the message it gives back. */
interface ReturnedMessage {
  readonly fields: { readonly exchange: string; readonly routingKey: string };
  readonly content: Buffer;
}

/** Confirmed publishing on one confirm channel (also used for the republishing done by nacks). */
export interface AmqpPublisher {
  /**
   * Publishes with confirms, sending unconfirmed messages again after a channel or connection
   * failure (up to `publishAttempts`). `prepare` runs on the channel first (declaring a delay
   * queue). Rejects with `PUBLISH_REFUSED` (basic.nack), {@link UnroutableMessageError}
   * (basic.return) or `PUBLISH_FAILED`.
   */
  publishReliably(
    messages: readonly OutgoingMessage[],
    signal: AbortSignal | undefined,
    prepare?: (channel: ConfirmChannel) => Promise<void>,
  ): Promise<void>;
  /** `message` serialized for `exchange` and `routingKey`, with its delivery count (when above 0) in a header. */
  outgoing(message: Envelope, exchange: string, routingKey: string, deliveries?: number): OutgoingMessage;
  /** `message.json` as the body (the serializer must be the JSON one), with the properties `outgoing` sets. */
  outgoingJson(message: JsonEnvelope, exchange: string, routingKey: string): OutgoingMessage;
  /** Closes the publishing channel. */
  close(): Promise<void>;
}

/**
 * Takes from `returns` the return of `message`, if the broker gave it back. A basic.return carries
 * no delivery tag; RabbitMQ sends it before the message's basic.ack, so when the ack's callback
 * runs the return is already here: it belongs to this message if destination and body match. Two
 * sends alike in all of these are the same message, so which one takes it changes nothing.
 * Matched here rather than by a header on every send: a header table costs amqplib more to encode
 * than anything else in a publish.
 */
function takeReturn(returns: ReturnedMessage[], message: OutgoingMessage): boolean {
  const index = returns.findIndex(
    (returned) =>
      returned.fields.routingKey === message.routingKey &&
      returned.fields.exchange === message.exchange &&
      returned.content.equals(message.content),
  );
  if (index < 0) return false;
  returns.splice(index, 1);
  return true;
}

/** The outcome of a send from the broker's answer: `undefined` when confirmed, else why it failed. */
function outcomeOf(message: OutgoingMessage, error: unknown, returns: ReturnedMessage[] | undefined): unknown {
  if (error === null || error === undefined)
    // Nothing per send on the hot path: returns are rare, and looked for only when one came.
    return returns && returns.length > 0 && takeReturn(returns, message)
      ? new BrokerReturnedError(`No queue is bound for routing key ${message.routingKey}`)
      : undefined;
  return error instanceof Error && error.message === 'message nacked'
    ? new BrokerRefusedError('The broker refused the message (basic.nack)')
    : error;
}

export function amqpPublisher(connection: AmqpConnection, settings: AmqpSettings): AmqpPublisher {
  const { clock, report, operationTimeoutMs, publishAttempts, serializer, exchange } = settings;

  // One confirm channel for publishing (and for the republishing done by nacks).
  let publisher: Promise<ConfirmChannel> | undefined;
  /** The publishing channel once open, so a publish on it waits for nothing but the broker's confirm. */
  let ready: { opening: Promise<ConfirmChannel>; channel: ConfirmChannel } | undefined;
  /** The returns of each publishing channel whose message's confirm has not come yet. */
  const returnsOf = new WeakMap<ConfirmChannel, ReturnedMessage[]>();
  const publishChannel = (): Promise<ConfirmChannel> => {
    if (publisher) return publisher;
    const opening = (async () => {
      const made = await (await connection.live()).createConfirmChannel();
      made.on('error', (error: unknown) => report('CHANNEL_FAILED', 'The publishing channel failed', error));
      const returns: ReturnedMessage[] = [];
      returnsOf.set(made, returns);
      made.on('return', (message: ReturnedMessage) => returns.push(message));
      made.once('close', () => {
        if (publisher === opening) publisher = undefined;
        if (ready?.channel === made) ready = undefined;
      });
      await made.assertExchange(exchange, 'topic', { durable: true });
      return made;
    })();
    publisher = opening;
    opening.then(
      (made) => {
        // Not if it closed or was abandoned meanwhile (either cleared `publisher`).
        if (publisher === opening) ready = { opening, channel: made };
      },
      () => {
        if (publisher === opening) publisher = undefined;
      },
    );
    return opening;
  };

  // One timer for every batch awaiting confirms (not one per batch): batches start in deadline
  // order, so the watchdog only ever waits for the oldest. An array trimmed at its head (as
  // amqplib keeps its own unconfirmed callbacks), not a Set: with the batches in a Set, each
  // batch's publish (its messages, outcomes and awaiting promise) was still found alive by
  // scavenges and promoted to old space, about 1 KB per message (#21).
  const pendingBatches: AmqpConfirmBatch[] = [];
  let watchdog: TimerHandle | undefined;
  const armWatchdog = () => {
    if (watchdog !== undefined) return;
    const oldest = pendingBatches[0];
    if (oldest) watchdog = clock.setTimeout(expireOverdue, Math.max(0, oldest.deadline - clock.now()));
  };
  // A broker that never confirms (a queue without a leader) must not hold a publish forever: past
  // the deadline the unconfirmed messages count as failed and go again on a new channel (they may
  // then arrive twice: at-least-once, never lost).
  const expireOverdue = () => {
    watchdog = undefined;
    const now = clock.now();
    while (pendingBatches.length > 0) {
      const batch = pendingBatches[0] as AmqpConfirmBatch;
      if (!batch.finished && batch.deadline > now) break;
      pendingBatches.shift();
      const opening = batch.opening;
      if (batch.finished || !opening) continue;
      const timedOut = new BrokerTimeoutError(`The broker did not confirm within ${operationTimeoutMs} ms`);
      connection.health.failed(timedOut);
      batch.expire(timedOut);
      abandon(opening);
    }
    armWatchdog();
  };
  /** Drops the finished batches at the head (batches mostly finish in order). */
  const dropFinished = () => {
    while (pendingBatches.length > 0 && (pendingBatches[0] as AmqpConfirmBatch).finished) pendingBatches.shift();
  };

  /** Drops a publishing channel the broker stopped answering on, so the next attempt opens a new one. */
  const abandon = (opening: Promise<ConfirmChannel>) => {
    if (publisher === opening) publisher = undefined;
    if (ready?.opening === opening) ready = undefined;
    void opening.then((made) => made.close()).catch(() => {});
  };

  /**
   * Sends messages on the confirm channel; resolves with those the broker did not confirm, or
   * `undefined` when it confirmed them all. Not an async function: on the hot path (an open
   * channel, nothing to declare first) a publish waits on one promise, with no timer.
   */
  const sendConfirmed = (
    messages: readonly OutgoingMessage[],
    prepare?: (channel: ConfirmChannel) => Promise<void>,
  ): Promise<Unconfirmed | undefined> => {
    const open = prepare ? undefined : ready;
    if (open) return sendOn(open.channel, open.opening, messages);
    const opening = publishChannel();
    return within(
      clock,
      opening.then(async (made) => {
        await prepare?.(made);
        return made;
      }),
      operationTimeoutMs,
      () => new BrokerTimeoutError(`No publishing channel within ${operationTimeoutMs} ms`),
    ).then(
      (channel) => sendOn(channel, opening, messages),
      (error: unknown) => {
        if (error instanceof BrokerTimeoutError) abandon(opening);
        throw error;
      },
    );
  };

  /** Sends messages on `channel` (opened by `opening`) and waits for the broker's outcome of each. */
  const sendOn = (
    channel: ConfirmChannel,
    opening: Promise<ConfirmChannel>,
    messages: readonly OutgoingMessage[],
  ): Promise<Unconfirmed | undefined> => {
    const batch = new AmqpConfirmBatch(messages, opening, clock.now() + operationTimeoutMs, dropFinished);
    const returns = returnsOf.get(channel);
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index] as OutgoingMessage;
      try {
        // Backpressure is left to amqplib's buffer: batches here are bounded by the caller.
        channel.publish(message.exchange, message.routingKey, message.content, message.options, (error: unknown) =>
          batch.settle(index, outcomeOf(message, error, returns)),
        );
      } catch (error) {
        batch.settle(index, error);
      }
    }
    if (!batch.finished) {
      pendingBatches.push(batch);
      armWatchdog();
    }
    return batch.done;
  };

  /**
   * What an attempt left to send again: the messages the broker did not confirm, with the first
   * error. Throws when sending them again cannot help (refused, or returned for want of a queue).
   */
  const leftAfter = ({ failed, errors }: Unconfirmed): { remaining: OutgoingMessage[]; error: unknown } => {
    const refused = errors.find((error) => error instanceof BrokerRefusedError);
    if (refused)
      throw new MessagingError('PUBLISH_REFUSED', `The broker refused ${failed.length} message(s)`, {
        cause: refused,
      });
    // Sending a returned message again cannot help until a group exists: refuse the call.
    const returnedCount = errors.filter((error) => error instanceof BrokerReturnedError).length;
    if (returnedCount > 0) {
      const first = failed[errors.findIndex((error) => error instanceof BrokerReturnedError)] as OutgoingMessage;
      throw new UnroutableMessageError('amqp', first.routingKey, returnedCount, {
        cause: errors.find((error) => error instanceof BrokerReturnedError),
      });
    }
    return { remaining: failed, error: errors[0] };
  };

  /**
   * Publishes with confirms, sending unconfirmed messages again after a channel or connection
   * failure. The first attempt runs without an async function around it: on the hot path a
   * publish waits on its batch's promise alone.
   */
  const publishReliably = (
    messages: readonly OutgoingMessage[],
    signal: AbortSignal | undefined,
    prepare?: (channel: ConfirmChannel) => Promise<void>,
  ): Promise<void> => {
    if (messages.length === 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (connection.closed) return Promise.reject(new TransportClosedError('amqp'));
    return abortable(sendConfirmed(messages, prepare), signal).then(
      (unconfirmed) => {
        if (!unconfirmed) {
          connection.health.succeeded();
          return;
        }
        const { remaining, error } = leftAfter(unconfirmed);
        return publishAgain(remaining, error, signal, prepare);
      },
      (error: unknown) => {
        if (error instanceof MessagingError || signal?.aborted) throw error;
        return publishAgain(messages, error, signal, prepare);
      },
    );
  };

  /** The attempts after the first (up to `publishAttempts` in all), each after a backoff. */
  const publishAgain = async (
    messages: readonly OutgoingMessage[],
    firstError: unknown,
    signal: AbortSignal | undefined,
    prepare?: (channel: ConfirmChannel) => Promise<void>,
  ) => {
    let remaining = messages;
    let lastError = firstError;
    for (let attempt = 2; attempt <= publishAttempts && remaining.length > 0; attempt++) {
      // Give a dying connection time to report its close, so the next attempt waits for a new one.
      await delay(clock, connection.backoffMs(attempt - 2), signal);
      signal?.throwIfAborted();
      if (connection.closed) throw new TransportClosedError('amqp');
      try {
        const unconfirmed = await abortable(sendConfirmed(remaining, prepare), signal);
        if (!unconfirmed) {
          connection.health.succeeded();
          remaining = [];
          continue;
        }
        ({ remaining, error: lastError } = leftAfter(unconfirmed));
      } catch (error) {
        if (error instanceof MessagingError || signal?.aborted) throw error;
        lastError = error;
      }
    }
    if (remaining.length > 0) {
      throw new MessagingError(
        'PUBLISH_FAILED',
        `${remaining.length} message(s) were not confirmed after ${publishAttempts} attempt(s)`,
        { cause: lastError },
      );
    }
  };

  /** The properties of a message as it goes out, with its delivery count (when above 0) in a header. */
  const propertiesOf = (
    id: string,
    type: string,
    correlationId: string | undefined,
    deliveries: number,
  ): Options.Publish => {
    // Mandatory: a message no queue receives comes back instead of being dropped.
    const publishOptions: Options.Publish = { persistent: true, mandatory: true, contentType: serializer.contentType };
    // No header table unless there is something to carry: amqplib's encoding of one is costly.
    if (deliveries > 0) publishOptions.headers = { [deliveriesHeader]: deliveries };
    // Properties for the broker's tools only (the envelope travels whole in the body): a value past
    // the 255 bytes of an AMQP short string is left out rather than refused.
    if (fitsShortString(id)) publishOptions.messageId = id;
    if (fitsShortString(type)) publishOptions.type = type;
    if (fitsShortString(correlationId)) publishOptions.correlationId = correlationId;
    return publishOptions;
  };

  /** A message as it goes out: the serialized envelope with its properties, to `exchange` and `routingKey`. */
  const outgoing = (message: Envelope, exchange: string, routingKey: string, deliveries = 0): OutgoingMessage => ({
    exchange,
    routingKey,
    content: serializeToPublish(serializer, message),
    // `publish` takes an envelope without headers (from JavaScript, or parsed JSON), as every transport does.
    options: propertiesOf(message.id, message.type, message.headers?.correlationId, deliveries),
  });

  const outgoingJson = (message: JsonEnvelope, exchange: string, routingKey: string): OutgoingMessage => ({
    exchange,
    routingKey,
    content: Buffer.from(message.json),
    options: propertiesOf(message.id, message.type, message.correlationId, 0),
  });

  return {
    publishReliably,
    outgoing,
    outgoingJson,
    async close() {
      if (watchdog !== undefined) clock.clearTimeout(watchdog);
      watchdog = undefined;
      const channel = publisher;
      publisher = undefined;
      ready = undefined;
      await channel?.then((made) => made.close()).catch(() => {});
    },
  };
}
