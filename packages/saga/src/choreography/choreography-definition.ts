import { OptionsValidator } from '@bulwark/resilience';
import type { ParticipantDefinition } from './participant.js';

/** What the tracker does when a flow stalls. */
export interface ChoreographyStallOptions {
  /**
   * The timeout event published when a flow made no progress for `stallAfterMs`.
   * @defaultValue `` `${name}.timed-out` ``
   */
  readonly emit?: string;
  /**
   * A compensation event also published on a stall: participants listing it in `compensateOn`
   * undo their change and the flow ends `compensated`. Without it a stalled flow ends `failed`.
   */
  readonly compensateWith?: string;
}

/** Options of {@link defineChoreography}. */
export interface ChoreographyOptions {
  /** Names the flow in the saga log (the record's `name`). */
  readonly name: string;
  /** The event that starts a flow; its `correlationId` (or id) is the flow's id. */
  readonly startsWith: string;
  /** The event after which the flow is `completed`. */
  readonly completesWith: string;
  /** The participants whose events the tracker follows. */
  readonly participants: readonly ParticipantDefinition<never, never>[];
  /** A flow with no new event for this long is stalled. */
  readonly stallAfterMs: number;
  readonly onStall?: ChoreographyStallOptions;
}

/** A choreographed flow as the tracker follows it: see {@link defineChoreography}. */
export interface ChoreographyDefinition extends ChoreographyOptions {
  readonly onStall: { readonly emit: string; readonly compensateWith?: string };
  /** Every event type the tracker consumes. */
  readonly events: readonly string[];
}

/**
 * Declares a choreographed flow for {@link choreographyTracker}: which event starts it, which ends
 * it, who takes part, and how long it may stay silent before it counts as stalled.
 */
export function defineChoreography(options: ChoreographyOptions): ChoreographyDefinition {
  const validator = new OptionsValidator('defineChoreography');
  const nonEmpty = (value: unknown) => typeof value === 'string' && value.length > 0;
  if (!nonEmpty(options?.name)) validator.report('name must be a non-empty string');
  if (!nonEmpty(options?.startsWith)) validator.report('startsWith must be a non-empty event type');
  if (!nonEmpty(options?.completesWith)) validator.report('completesWith must be a non-empty event type');
  if (!Array.isArray(options?.participants) || options.participants.length === 0)
    validator.report('participants must be a non-empty array of participant definitions');
  else {
    const names = new Set<string>();
    for (const participant of options.participants) {
      if (names.has(participant.name)) validator.report(`two participants are named "${participant.name}"`);
      names.add(participant.name);
    }
  }
  if (!(typeof options?.stallAfterMs === 'number' && Number.isFinite(options.stallAfterMs) && options.stallAfterMs > 0))
    validator.report('stallAfterMs must be a positive number');
  if (options?.onStall?.emit !== undefined && !nonEmpty(options.onStall.emit))
    validator.report('onStall.emit must be a non-empty event type');
  if (options?.onStall?.compensateWith !== undefined && !nonEmpty(options.onStall.compensateWith))
    validator.report('onStall.compensateWith must be a non-empty event type');
  validator.throwIfInvalid();
  const events = new Set<string>([options.startsWith, options.completesWith]);
  for (const participant of options.participants) {
    events.add(participant.emits.success);
    events.add(participant.emits.failure);
    if (participant.compensate) events.add(participant.emits.compensated);
  }
  return {
    ...options,
    onStall: { emit: `${options.name}.timed-out`, ...options.onStall },
    events: [...events],
  };
}
