import type { Envelope, Transport } from '@bulwark/messaging';
import type { ParticipantStore } from './participant-store.js';

/** The transaction of {@link memoryParticipantStore}: nothing to write through. */
export type MemoryParticipantTransaction = undefined;

/**
 * A {@link ParticipantStore} in memory, for tests and single-process demos: message ids are
 * recorded in a set and the events are published straight to `transport` once the work is done
 * (the id is recorded only after the publish succeeded, so a failed publish is retried). Nothing
 * survives the process: use `postgresParticipantStore` where a crash must not lose or double.
 */
export function memoryParticipantStore(
  transport: Pick<Transport, 'publish'>,
): ParticipantStore<MemoryParticipantTransaction> {
  const handled = new Map<string, Set<string>>();
  return {
    handler(group, work) {
      let ids = handled.get(group);
      if (!ids) {
        ids = new Set();
        handled.set(group, ids);
      }
      const seen = ids;
      return async (message, context) => {
        if (seen.has(message.id)) return;
        const events = await work(message, undefined, context.signal);
        const byTopic = new Map<string, Envelope[]>();
        for (const event of events) byTopic.set(event.topic, [...(byTopic.get(event.topic) ?? []), event]);
        for (const [topic, batch] of byTopic) await transport.publish(topic, batch, { signal: context.signal });
        seen.add(message.id);
      };
    },
  };
}
