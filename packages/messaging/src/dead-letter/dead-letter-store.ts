import type { Envelope } from '../envelope/envelope.js';
import { deadLetterHeaders } from './dead-letter-headers.js';

/** A dead-lettered message as a {@link DeadLetterStore} keeps it. */
export interface DeadLetter {
  /** The message as it arrived on the dead-letter topic, failure headers included. */
  readonly message: Envelope;
  /** Where a replay sends it: the `x-dead-letter-original-topic` header. */
  readonly originalTopic: string;
  /** When the store received it, ms since the epoch. */
  readonly storedAt: number;
}

/** Options of {@link DeadLetterStore.list}. */
export interface DeadLetterListOptions {
  /** Only dead letters of this original topic. */
  originalTopic?: string;
  /** @defaultValue 100 */
  limit?: number;
  signal?: AbortSignal;
}

/** Which dead letters {@link DeadLetterStore.remove} removes: some ids, or all of a topic, or all. */
export interface DeadLetterSelection {
  /** These message ids only. */
  ids?: readonly string[];
  /** Only dead letters of this original topic. */
  originalTopic?: string;
  signal?: AbortSignal;
}

/**
 * Keeps dead-lettered messages for people to look at, replay or purge. Keyed by message id:
 * adding an id again replaces the earlier copy (the message failed again). Listed oldest first.
 * Implementations: `memoryDeadLetterStore()` (core), `postgresDeadLetterStore(pool)` (`/postgres`).
 */
export interface DeadLetterStore {
  add(message: Envelope, options?: { signal?: AbortSignal }): Promise<void>;
  list(options?: DeadLetterListOptions): Promise<DeadLetter[]>;
  /** Removes the selected dead letters; with an empty selection, all of them. Returns how many. */
  remove(selection?: DeadLetterSelection): Promise<number>;
  /** Releases what the store opened; never closes a client the user passed in. */
  close(): Promise<void>;
}

/** The original topic of a dead-lettered message (its header, else its topic). */
export function originalTopicOf(message: Envelope): string {
  return message.headers[deadLetterHeaders.originalTopic] ?? message.topic;
}
