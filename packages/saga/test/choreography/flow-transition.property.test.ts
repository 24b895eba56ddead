import { createEnvelope, type Envelope } from '@bulwark/messaging';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  flowTransition,
  type ParticipantOutcome,
  pendingCompensations,
  type SagaLogEntry,
  type SagaStatus,
  stallTransition,
} from '../../src/index.js';
import { orderFlow, orderFlowEffects, orderParticipants } from './order-flow.js';

const participants = orderParticipants(orderFlowEffects());
const flow = orderFlow(Object.values(participants));
const chain = [participants.inventory, participants.payment, participants.shipping] as const;

const event = (type: string, participant?: string, outcome?: ParticipantOutcome): Envelope =>
  createEnvelope({
    topic: type,
    type,
    payload: null,
    headers: {
      correlationId: 'flow-1',
      ...(participant ? { 'bulwark-participant': participant, 'bulwark-outcome': outcome ?? 'completed' } : {}),
    },
  });

/**
 * The events one flow produces when every participant follows the protocol: the chain up to
 * the step that fails (if any), then the compensations of the completed steps that listen to
 * the failure event.
 */
function producedEvents(failAt: number | undefined): Envelope[] {
  const events = [event('order.placed')];
  const completed: (typeof chain)[number][] = [];
  for (const [index, participant] of chain.entries()) {
    if (index === failAt) {
      events.push(event(participant.emits.failure, participant.name, 'failed'));
      for (const done of completed)
        if (done.compensate && done.compensateOn.includes(participant.emits.failure))
          events.push(event(done.emits.compensated, done.name, 'compensated'));
      return events;
    }
    events.push(event(participant.emits.success, participant.name, 'completed'));
    completed.push(participant);
  }
  return events;
}

/** Feeds the events to the transition function as the tracker would, keeping the log in memory. */
function replay(
  events: readonly Envelope[],
  from: { status: SagaStatus; history: SagaLogEntry[] } = { status: 'running', history: [] },
): { status: SagaStatus; history: SagaLogEntry[] } {
  let status = from.status;
  const history = [...from.history];
  for (const next of events) {
    if (history.length === 0)
      history.push({ seq: 1, at: 0, kind: 'saga-started', data: { firstEvent: { messageId: next.id } } });
    const transition = flowTransition(flow, status, history, next);
    for (const entry of transition.entries) history.push({ seq: history.length + 1, at: 0, ...entry });
    status = transition.status;
  }
  return { status, history };
}

describe('flowTransition (property)', () => {
  it('ends every flow completed or compensated, whatever order (and how often) the tracker sees its events', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        fc.array(fc.nat({ max: 11 }), { maxLength: 4 }),
        (failAt, order, duplicated) => {
          const produced = producedEvents(failAt);
          const delivered = [
            ...produced,
            ...duplicated.filter((index) => index < produced.length).map((index) => produced[index] as Envelope),
          ];
          const shuffled = delivered
            .map((item, index) => ({ item, rank: order[index % order.length] ?? 0 }))
            .sort((left, right) => left.rank - right.rank)
            .map(({ item }) => item);
          const { status, history } = replay(shuffled);
          expect(status).toBe(failAt === undefined ? 'completed' : 'compensated');
          expect(pendingCompensations(flow, history)).toEqual([]);
          const ids = history
            .map((entry) => (entry.data as { messageId?: string } | undefined)?.messageId)
            .filter(Boolean);
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('ends a stalled flow compensated or failed, never running', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.boolean(), (progress, compensationStalls) => {
        const before = replay(producedEvents(undefined).slice(0, progress + 1));
        const stall = stallTransition(flow, before.status, before.history, 10_000);
        const history = [...before.history];
        for (const entry of stall.entries) history.push({ seq: history.length + 1, at: 0, ...entry });
        let status = stall.status;
        if (status === 'compensating') {
          const owed = pendingCompensations(flow, history);
          expect(owed.length).toBeGreaterThan(0);
          if (compensationStalls) status = stallTransition(flow, status, history, 10_000).status;
          else {
            const compensations = owed.map((name) => {
              const participant = chain.find((candidate) => candidate.name === name);
              return event(participant?.emits.compensated ?? name, name, 'compensated');
            });
            status = replay(compensations, { status, history }).status;
          }
        }
        expect(['compensated', 'failed']).toContain(status);
        if (!compensationStalls || progress === 0) expect(status).toBe('compensated');
      }),
    );
  });
});
