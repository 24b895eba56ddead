import type { GetMessage, Options } from 'amqplib';
import type { AmqpConnection } from './amqp-connection.js';
import { type AmqpPublisher, type OutgoingMessage, publishTagHeader } from './amqp-publisher.js';
import type { AmqpTopology } from './amqp-topology.js';

/** Headers the broker adds when dead-lettering; a released message starts without them. */
const deadLetterHeaders = new Set([
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
  publishTagHeader,
]);

/** Held messages moved per channel while releasing them to a new group. */
const releaseBatch = 256;

/**
 * Sends the delayed messages held for `topic` (no group received them when their delay ended)
 * to the groups bound now, through the delayed exchange, acking each held copy only once the
 * broker confirmed it. Bounded by what was held at the start, so messages that come back (every
 * group vanished meanwhile) do not cycle.
 */
export async function releaseHeldMessages(
  parts: { connection: AmqpConnection; publisher: AmqpPublisher; topology: AmqpTopology },
  topic: string,
  signal?: AbortSignal,
): Promise<void> {
  const { connection, publisher, topology } = parts;
  const held = topology.heldQueueOf(topic);
  /** A held message as it goes out again: its own properties, without the broker's dead-letter headers. */
  const releasedCopy = (raw: GetMessage): OutgoingMessage => {
    const headers: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw.properties.headers ?? {}))
      if (!deadLetterHeaders.has(name)) headers[name] = value;
    const options: Options.Publish = { persistent: true, mandatory: true, headers };
    const { contentType, messageId, type, correlationId } = raw.properties;
    if (contentType !== undefined) options.contentType = contentType;
    if (messageId !== undefined) options.messageId = messageId;
    if (type !== undefined) options.type = type;
    if (correlationId !== undefined) options.correlationId = correlationId;
    return { exchange: topology.delayedExchange, routingKey: topic, content: raw.content, options };
  };
  let budget: number | undefined;
  while (budget === undefined || budget > 0) {
    const moved = await connection.withChannel(async (channel) => {
      // A missing queue (404) closes this channel: nothing was ever held for the topic.
      const checked = await channel.checkQueue(held).catch(() => undefined);
      if (!checked) return 0;
      budget ??= checked.messageCount + releaseBatch;
      const taken: GetMessage[] = [];
      while (taken.length < Math.min(releaseBatch, budget)) {
        const next = await channel.get(held, { noAck: false });
        if (next === false) break;
        taken.push(next);
      }
      if (taken.length === 0) return 0;
      // Not acked on failure: closing the channel puts them back in the held queue.
      await publisher.publishReliably(taken.map(releasedCopy), signal);
      channel.ack(taken[taken.length - 1] as GetMessage, true);
      return taken.length;
    }, signal);
    if (moved === 0) return;
    budget = (budget ?? 0) - moved;
  }
}
