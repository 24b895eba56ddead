import type { Envelope, Transport } from '@bulwark/messaging';
import { SagaError } from '../errors/saga-error.js';
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
      const running = new Set<string>();
      return async (message, context) => {
        if (seen.has(message.id)) return;
        // A copy delivered while the first is being handled fails, so the consumer retries it
        // after the first is recorded (and then skips it), instead of running the work twice.
        if (running.has(message.id))
          throw new SagaError('PARTICIPANT_MESSAGE_IN_FLIGHT', `Message ${message.id} is being handled`);
        running.add(message.id);
        try {
          const events = await work(message, undefined, context.signal);
          const byTopic = new Map<string, Envelope[]>();
          for (const event of events) byTopic.set(event.topic, [...(byTopic.get(event.topic) ?? []), event]);
          for (const [topic, batch] of byTopic) await transport.publish(topic, batch, { signal: context.signal });
          seen.add(message.id);
        } finally {
          running.delete(message.id);
        }
      };
    },
  };
}
