import type { Envelope } from '@bulwark/messaging';
import type { JsonValue } from '../definition/json.js';
import type { NewSagaLogEntry, SagaLogEntry, SagaStatus } from '../log/saga-log.js';
import type { ChoreographyDefinition } from './choreography-definition.js';
import { type ParticipantOutcome, participantHeaders } from './participant.js';

/** What one event (or a stall) changes in a flow's log: entries to append and the new status. */
export interface FlowTransition {
  readonly entries: readonly Omit<NewSagaLogEntry, 'at'>[];
  readonly status: SagaStatus;
}

/** What a flow's entries keep of an event: enough to see in `history()` what happened and to skip a redelivery. */
export const eventData = (event: Envelope): JsonValue => ({
  messageId: event.id,
  type: event.type,
  payload: (event.payload ?? null) as JsonValue,
});

const field = (entry: Pick<NewSagaLogEntry, 'data'>, name: string): JsonValue | undefined => {
  const data = entry.data;
  return data !== null && typeof data === 'object' && !Array.isArray(data)
    ? (data as Readonly<Record<string, JsonValue>>)[name]
    : undefined;
};

/** Whether the flow's history already holds this event (a redelivery or a copy published twice). */
export const alreadyRecorded = (history: readonly SagaLogEntry[], event: Envelope): boolean =>
  history.some((entry) => field(entry, 'messageId') === event.id);

/**
 * Participants that still owe a compensation: they completed, compensate on the failure event
 * that started the compensation (its `trigger`), and have not reported it done yet.
 */
export function pendingCompensations(
  flow: ChoreographyDefinition,
  history: readonly Omit<NewSagaLogEntry, 'at'>[],
): string[] {
  const failure = history.find((entry) => entry.kind === 'step-failed');
  const trigger = failure ? field(failure, 'trigger') : undefined;
  if (typeof trigger !== 'string') return [];
  const completed = new Set(history.filter((entry) => entry.kind === 'step-completed').map((entry) => entry.step));
  const compensated = new Set(history.filter((entry) => entry.kind === 'step-compensated').map((entry) => entry.step));
  return flow.participants
    .filter(
      (participant) =>
        participant.compensate !== undefined &&
        participant.compensateOn.includes(trigger) &&
        completed.has(participant.name) &&
        !compensated.has(participant.name),
    )
    .map((participant) => participant.name);
}

/** Moves to `compensating`, or straight to `compensated` when nobody has anything to undo. */
function startCompensation(
  flow: ChoreographyDefinition,
  history: readonly SagaLogEntry[],
  failed: Omit<NewSagaLogEntry, 'at'>,
): FlowTransition {
  const entries: Omit<NewSagaLogEntry, 'at'>[] = [failed];
  if (pendingCompensations(flow, [...history, failed]).length > 0) return { entries, status: 'compensating' };
  entries.push({ kind: 'saga-compensated' });
  return { entries, status: 'compensated' };
}

/**
 * How an event moves a flow on, given its status and history. Pure, so the tracker and the
 * property tests share it. Events the flow does not know (or a participant's compensation for
 * a change it never made) change nothing.
 */
export function flowTransition(
  flow: ChoreographyDefinition,
  status: SagaStatus,
  history: readonly SagaLogEntry[],
  event: Envelope,
): FlowTransition {
  const unchanged: FlowTransition = { entries: [], status };
  if (status !== 'running' && status !== 'compensating') return unchanged;
  if (alreadyRecorded(history, event)) return unchanged;
  const name = event.headers[participantHeaders.participant];
  const outcome = event.headers[participantHeaders.outcome] as ParticipantOutcome | undefined;
  const participant = flow.participants.find((candidate) => candidate.name === name);
  const data = eventData(event);
  if (participant && outcome === 'completed' && event.type === participant.emits.success) {
    const entries: Omit<NewSagaLogEntry, 'at'>[] = [{ kind: 'step-completed', step: participant.name, data }];
    if (status === 'running' && event.type === flow.completesWith) {
      entries.push({ kind: 'saga-completed' });
      return { entries, status: 'completed' };
    }
    return { entries, status };
  }
  if (participant && outcome === 'failed' && event.type === participant.emits.failure) {
    const failed = {
      kind: 'step-failed',
      step: participant.name,
      data: { ...(data as Record<string, JsonValue>), trigger: event.type },
    } as const;
    if (status === 'compensating') return { entries: [failed], status };
    return startCompensation(flow, history, failed);
  }
  if (participant && outcome === 'compensated' && event.type === participant.emits.compensated) {
    // Recorded even when its success was not seen yet: each event type has its own topic, so
    // the tracker may see a flow's events out of order, and a late success must not count as owed.
    const compensated = history.some((entry) => entry.kind === 'step-compensated' && entry.step === participant.name);
    if (compensated) return unchanged;
    const entry = { kind: 'step-compensated', step: participant.name, data } as const;
    if (status === 'compensating' && pendingCompensations(flow, [...history, entry]).length === 0)
      return { entries: [entry, { kind: 'saga-compensated' }], status: 'compensated' };
    return { entries: [entry], status };
  }
  if (!participant && status === 'running' && event.type === flow.completesWith)
    return { entries: [{ kind: 'saga-completed', data }], status: 'completed' };
  return unchanged;
}

/**
 * What a stall does: a running flow compensates (with `onStall.compensateWith`) or fails; a
 * flow whose compensation stalled fails and needs a person.
 */
export function stallTransition(
  flow: ChoreographyDefinition,
  status: SagaStatus,
  history: readonly SagaLogEntry[],
  stalledForMs: number,
): FlowTransition {
  const compensateWith = flow.onStall.compensateWith;
  if (status === 'running' && compensateWith !== undefined)
    return startCompensation(flow, history, {
      kind: 'step-failed',
      step: flow.onStall.emit,
      data: { reason: 'stalled', stalledForMs, trigger: compensateWith },
    });
  if (status === 'running' || status === 'compensating')
    return {
      entries: [
        {
          kind: 'saga-failed',
          step: flow.onStall.emit,
          data: {
            reason: status === 'running' ? 'stalled' : 'compensation stalled',
            stalledForMs,
            pending: pendingCompensations(flow, history),
          },
        },
      ],
      status: 'failed',
    };
  return { entries: [], status };
}
