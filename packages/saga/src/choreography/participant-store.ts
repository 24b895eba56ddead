import type { Envelope, MessageHandler } from '@bulwark/messaging';

/** The work a participant does for one event: its change, and the events to emit with it. */
export type ParticipantWork<Transaction> = (
  message: Envelope,
  transaction: Transaction,
  signal: AbortSignal,
) => Promise<readonly Envelope[]>;

/**
 * Where a participant's change, its inbox record and its emitted events meet. Guarantees of
 * every implementation:
 * - the work runs in one transaction together with the record of the message id for `group`
 *   (the inbox) and the write of the events it returns (the outbox): all commit or none does;
 * - a message whose id is already recorded for `group` is skipped (nothing runs, nothing is emitted);
 * - committed events reach the transport at least once (the outbox relay publishes them).
 */
export interface ParticipantStore<Transaction> {
  /** Wraps `work` into a consumer handler with the guarantees above. */
  handler(group: string, work: ParticipantWork<Transaction>): MessageHandler;
}
