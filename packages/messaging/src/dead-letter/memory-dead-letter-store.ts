import { type Clock, systemClock } from '@bulwark/resilience';
import type { Envelope } from '../envelope/envelope.js';
import {
  type DeadLetter,
  type DeadLetterListOptions,
  type DeadLetterSelection,
  type DeadLetterStore,
  originalTopicOf,
} from './dead-letter-store.js';

/** The in-memory {@link DeadLetterStore}, for development and tests. */
export function memoryDeadLetterStore(options: { clock?: Clock } = {}): DeadLetterStore {
  const clock = options.clock ?? systemClock;
  // A Map keeps insertion order; delete + set moves a re-added id to the end.
  const letters = new Map<string, DeadLetter>();
  const matches = (letter: DeadLetter, selection: DeadLetterSelection) =>
    (selection.ids === undefined || selection.ids.includes(letter.message.id)) &&
    (selection.originalTopic === undefined || letter.originalTopic === selection.originalTopic);
  return {
    async add(message: Envelope) {
      letters.delete(message.id);
      letters.set(message.id, {
        message: structuredClone(message),
        originalTopic: originalTopicOf(message),
        storedAt: clock.now(),
      });
    },
    async list(listOptions: DeadLetterListOptions = {}) {
      listOptions.signal?.throwIfAborted();
      const limit = listOptions.limit ?? 100;
      const result: DeadLetter[] = [];
      for (const letter of letters.values()) {
        if (result.length >= limit) break;
        if (matches(letter, listOptions)) result.push(structuredClone(letter));
      }
      return result;
    },
    async remove(selection: DeadLetterSelection = {}) {
      selection.signal?.throwIfAborted();
      let removed = 0;
      for (const [id, letter] of letters) {
        if (matches(letter, selection)) {
          letters.delete(id);
          removed += 1;
        }
      }
      return removed;
    },
    async close() {},
  };
}
