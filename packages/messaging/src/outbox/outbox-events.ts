/** Events of an {@link OutboxRelay}, by name. */
export interface OutboxRelayEvents {
  /** This relay became the one that publishes for its outbox (others wait as standbys). */
  'outbox-leadership-acquired': { readonly outbox: string };
  /** This relay stopped publishing: it closed, or its connection failed (`error`). */
  'outbox-leadership-released': { readonly outbox: string; readonly error?: unknown };
  /** The transport accepted these messages and their rows were removed from the outbox. */
  'outbox-dispatched': {
    readonly outbox: string;
    readonly topic: string;
    readonly count: number;
    /** From reading the rows to removing them, including publish retries. */
    readonly durationMs: number;
    /** Age of the oldest message of the batch when it was read: how far behind the relay was. */
    readonly lagMs: number;
  };
  /** Publishing failed; the rows stay and are retried after `retryInMs` (they are never dropped). */
  'outbox-publish-failed': {
    readonly outbox: string;
    readonly topic: string;
    readonly count: number;
    /** 1 for the first failure of these rows, then 2, 3, … */
    readonly attempt: number;
    readonly retryInMs: number;
    readonly error: unknown;
  };
  /** The outbox store failed (lost connection, SQL error); the relay starts over after `retryInMs`. */
  'outbox-relay-failed': { readonly outbox: string; readonly error: unknown; readonly retryInMs: number };
}
