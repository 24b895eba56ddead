import type { Outbox } from '@bulwark/messaging';
import type { PostgresInbox, PostgresOutboxExecutor } from '@bulwark/messaging/postgres';
import { OptionsValidator } from '@bulwark/resilience';
import type { PoolClient } from 'pg';
import type { ParticipantStore } from '../choreography/participant-store.js';

/** Options of {@link postgresParticipantStore}. */
export interface PostgresParticipantStoreOptions {
  /** Records handled message ids in the participant's transaction (`postgresInbox(pool)`). */
  readonly inbox: Pick<PostgresInbox, 'handler'>;
  /** Writes the emitted events in that same transaction (`postgresOutbox(pool)`); run its relay. */
  readonly outbox: Pick<Outbox<PostgresOutboxExecutor>, 'add'>;
}

/**
 * The participant store on PostgreSQL: each event runs in one transaction of the inbox's pool
 * that records its id (a redelivered event is skipped), runs the participant's change with that
 * transaction's client, and adds the emitted events to the outbox — all commit together, so a
 * participant killed at any point neither loses nor doubles a step. The outbox's relay
 * (`outbox.relay({ transport })`) publishes the events once committed.
 *
 * @example
 * ```ts
 * const store = postgresParticipantStore({ inbox: postgresInbox(pool), outbox: postgresOutbox(pool) });
 * await startParticipant(transport, inventory, { store });
 * ```
 */
export function postgresParticipantStore(options: PostgresParticipantStoreOptions): ParticipantStore<PoolClient> {
  const validator = new OptionsValidator('postgresParticipantStore');
  if (typeof options?.inbox?.handler !== 'function') validator.report('inbox must be a PostgresInbox');
  if (typeof options?.outbox?.add !== 'function') validator.report('outbox must be an Outbox');
  validator.throwIfInvalid();
  const { inbox, outbox } = options;
  return {
    handler(group, work) {
      return inbox.handler(group, async (message, context) => {
        const events = await work(message, context.client, context.signal);
        if (events.length > 0) await outbox.add(context.client, events, { signal: context.signal });
      });
    },
  };
}
