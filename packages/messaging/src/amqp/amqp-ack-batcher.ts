import type { Channel, Message } from 'amqplib';

/**
 * The acks of one consuming channel, written together. Acks asked for before the current run of
 * microtasks ends go out in one `basic.ack` with `multiple` for every one below the oldest
 * delivery still outstanding, and one `basic.ack` each above it: one frame for a burst of
 * handled deliveries instead of one per delivery, less for amqplib to encode and for the broker
 * to process. A delivery still outstanding (its handler running, or a nack republishing it) is
 * never covered by a `multiple` ack; a nack sent meanwhile leaves the outstanding ones before the
 * ack that follows it, so its frame goes first. `ack` resolves once the frame is handed to
 * amqplib, as a plain `channel.ack` call would be; `flush` writes what is queued right away (a
 * closing subscription does, before the channel goes).
 */
export class AmqpAckBatcher {
  readonly #channel: Channel;
  readonly #live: () => boolean;
  /** Delivery tags received and not settled by a frame yet, in delivery (ascending) order. */
  readonly #outstanding = new Set<number>();
  #queued: Message[] = [];
  /** Settled once the queued acks are written: shared by every ack of the batch. */
  #written: Promise<void> | undefined;
  #markWritten: () => void = () => {};

  /** `live` tells whether acks still count on `channel` (a replaced channel's deliveries are back with the broker). */
  constructor(channel: Channel, live: () => boolean) {
    this.#channel = channel;
    this.#live = live;
  }

  /** A delivery arrived on the channel: outstanding until acked, nacked or rejected. */
  received(deliveryTag: number): void {
    this.#outstanding.add(deliveryTag);
  }

  /** The delivery was settled by a frame sent some other way (a nack, a reject). */
  settledOtherwise(deliveryTag: number): void {
    this.#outstanding.delete(deliveryTag);
  }

  /** Queues the delivery's ack; resolves once it is written with its batch. */
  ack(message: Message): Promise<void> {
    this.#outstanding.delete(message.fields.deliveryTag);
    this.#queued.push(message);
    if (this.#written) return this.#written;
    this.#written = new Promise<void>((resolve) => {
      this.#markWritten = resolve;
    });
    queueMicrotask(() => this.flush());
    return this.#written;
  }

  /** Writes the queued acks now. */
  flush(): void {
    const queued = this.#queued;
    const markWritten = this.#markWritten;
    this.#queued = [];
    this.#written = undefined;
    this.#markWritten = () => {};
    if (queued.length > 0 && this.#live()) this.#write(queued);
    markWritten();
  }

  #write(queued: readonly Message[]): void {
    const oldest: number = this.#outstanding.values().next().value ?? Number.POSITIVE_INFINITY;
    let highestBelow: Message | undefined;
    let below = 0;
    const above: Message[] = [];
    for (const message of queued) {
      const tag = message.fields.deliveryTag;
      if (tag < oldest) {
        below += 1;
        if (!highestBelow || tag > highestBelow.fields.deliveryTag) highestBelow = message;
      } else above.push(message);
    }
    try {
      // Every delivery below `oldest` is settled: acked here, or by a frame already written.
      if (highestBelow) this.#channel.ack(highestBelow, below > 1);
      for (const message of above) this.#channel.ack(message);
    } catch {
      // The channel closed this instant: the broker redelivers what was not acked.
    }
  }
}
