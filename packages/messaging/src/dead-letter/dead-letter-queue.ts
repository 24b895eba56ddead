import { consumerDefaults } from '../consumer/consumer-options.js';
import type { Envelope, MessageHeaders } from '../envelope/envelope.js';
import type { Subscription, Transport } from '../transport/transport.js';
import { deadLetterHeaders } from './dead-letter-headers.js';
import type { DeadLetter, DeadLetterListOptions, DeadLetterSelection, DeadLetterStore } from './dead-letter-store.js';

/** Options of {@link deadLetterQueue}. */
export interface DeadLetterQueueOptions {
  /** The dead-letter topic consumers publish to (their `deadLetter` option). */
  topic: string;
  /** Where dead letters are kept for listing, replay and purge. */
  store: DeadLetterStore;
  /**
   * The consumer group that moves dead letters into the store; the same group `consume()`
   * declares on its dead-letter topic (`deadLetterGroup`), so it finds what was dead-lettered
   * before it started. @defaultValue `'bulwark-dead-letters'`
   */
  group?: string;
}

/** What {@link DeadLetterQueue.replay} replays. */
export interface DeadLetterReplayOptions extends DeadLetterSelection {
  /** At most this many. @defaultValue 100 */
  limit?: number;
}

/** Inspect, replay and purge dead letters: see {@link deadLetterQueue}. */
export interface DeadLetterQueue {
  list(options?: DeadLetterListOptions): Promise<DeadLetter[]>;
  /**
   * Publishes the selected dead letters back to their original topic (same id, failure headers
   * removed) and then removes them from the store. Returns how many were replayed.
   */
  replay(options?: DeadLetterReplayOptions): Promise<number>;
  /** Deletes the selected dead letters for good; with an empty selection, all. Returns how many. */
  purge(selection?: DeadLetterSelection): Promise<number>;
  /** Stops moving dead letters into the store (does not close the store or the transport). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const failureHeaders = new Set<string>(Object.values(deadLetterHeaders));

/** The message as it was before it was dead-lettered: original topic, failure headers removed. */
export function restoreDeadLetter(letter: DeadLetter): Envelope {
  const headers: MessageHeaders = {};
  for (const [name, value] of Object.entries(letter.message.headers)) {
    if (!failureHeaders.has(name)) headers[name] = value;
  }
  return { ...letter.message, topic: letter.originalTopic, headers };
}

/**
 * Keeps the dead letters of a topic in a {@link DeadLetterStore}, on any transport: it
 * subscribes to the dead-letter topic (as group `bulwark-dead-letters`), adds each message to the
 * store and acks it. `list`, `replay` and `purge` then work on the store. Dead letters stay on
 * the transport until stored, so none is lost if the store is down for a while.
 *
 * @example
 * ```ts
 * const dlq = await deadLetterQueue(transport, { topic: 'orders.dead-letter', store: postgresDeadLetterStore(pool) });
 * for (const letter of await dlq.list()) console.log(letter.message.id, letter.message.headers['x-dead-letter-error']);
 * await dlq.replay({ ids: ['…'] });
 * ```
 */
export async function deadLetterQueue(transport: Transport, options: DeadLetterQueueOptions): Promise<DeadLetterQueue> {
  const { store, topic } = options;
  const subscription: Subscription = await transport.subscribe(
    topic,
    options.group ?? consumerDefaults.deadLetterGroup,
    async (delivery) => {
      // A store failure rejects: the delivery is nacked and comes back.
      await store.add(delivery.message);
    },
    { prefetch: 16 },
  );
  const queue: DeadLetterQueue = {
    list: (listOptions) => store.list(listOptions),
    async replay(replayOptions = {}) {
      const letters = await store.list({
        limit: replayOptions.limit ?? 100,
        ...(replayOptions.originalTopic === undefined ? {} : { originalTopic: replayOptions.originalTopic }),
        ...(replayOptions.signal ? { signal: replayOptions.signal } : {}),
      });
      const selected = replayOptions.ids
        ? letters.filter((letter) => replayOptions.ids?.includes(letter.message.id))
        : letters;
      let replayed = 0;
      for (const letter of selected) {
        const message = restoreDeadLetter(letter);
        await transport.publish(message.topic, [message], replayOptions.signal ? { signal: replayOptions.signal } : {});
        await store.remove({ ids: [message.id] });
        replayed += 1;
      }
      return replayed;
    },
    purge: (selection) => store.remove(selection),
    close: () => subscription.close(),
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  return queue;
}
