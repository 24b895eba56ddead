import type { EventLogCursor } from '../event-log/event-log.js';

/** Events of a {@link Projection}, by name. */
export interface ProjectionEvents {
  /** This runner became the one that applies events for the projection (others wait as standbys). */
  'projection-leadership-acquired': { readonly projection: string };
  /** This runner stopped applying events: it closed, or its lease was lost (`error`). */
  'projection-leadership-released': { readonly projection: string; readonly error?: unknown };
  /** A batch of events was applied and its checkpoint stored with the read-model writes. */
  'projection-batch-applied': {
    readonly projection: string;
    readonly count: number;
    /** The checkpoint after the batch. */
    readonly checkpoint: EventLogCursor;
    /** From reading the batch to committing it. */
    readonly durationMs: number;
    /** Age of the batch's oldest event when it was applied: how far behind the projection was. */
    readonly lagMs: number;
    /** Whether the batch went into the fresh table of a rebuild. */
    readonly rebuilding: boolean;
  };
  /** Applying a batch failed (the handler threw, the store failed); it is tried again after `retryInMs`. */
  'projection-failed': { readonly projection: string; readonly error: unknown; readonly retryInMs: number };
  /** A rebuild started: a fresh table is being filled from the start of the log. */
  'projection-rebuild-started': { readonly projection: string; readonly table: string };
  /** A rebuild caught up and its table replaced the live one. */
  'projection-rebuilt': { readonly projection: string; readonly durationMs: number; readonly events: number };
  'projection-paused': { readonly projection: string };
  'projection-resumed': { readonly projection: string };
}
