import {
  type ConsumeOptions,
  type Consumer,
  consume,
  createEnvelope,
  type Envelope,
  type Transport,
} from '@bulwark/messaging';
import type { Clock } from '@bulwark/resilience';
import { InvalidOptionsError } from '@bulwark/resilience';

import { assertJson, type JsonValue } from '../definition/json.js';

import { deterministicMessageId } from '../orchestrator/message-id.js';
import { traceParticipant } from '../telemetry/choreography-spans.js';
import {
  isParticipantFailure,
  type ParticipantContext,
  type ParticipantDefinition,
  type ParticipantOutcome,
  participantFailure,
  participantHeaders,
} from './participant.js';

import type { ParticipantStore } from './participant-store.js';

/** Consumer settings a participant passes on to `consume` (topic, group and handler are its own). */
export type ParticipantConsumeOptions = Omit<ConsumeOptions, 'topic' | 'group' | 'handler'>;

/** Options of {@link startParticipant}. */
export interface StartParticipantOptions<Transaction> {
  /** Makes the change, the inbox record and the emitted events atomic. */
  readonly store: ParticipantStore<Transaction>;
  /** The consumer group (and inbox group). @defaultValue the participant's name */
  readonly group?: string;
  /** Passed to every consumer of the participant (retries, concurrency, dead letters, clock…). */
  readonly consume?: ParticipantConsumeOptions;
  /** Stamps the emitted events. @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** A running participant: its consumers. */
export interface RunningParticipant extends AsyncDisposable {
  readonly name: string;
  /** Closes the consumers (handlers in flight finish first; see `Consumer.close`). */
  close(): Promise<void>;
}

/**
 * Runs a participant: consumes the event it reacts to and the failure events it compensates for,
 * each in the store's transaction, and emits its outcome events through the store (the outbox).
 * Emitted events keep the flow's `correlationId`, carry the participant and outcome in headers
 * (`bulwark-participant`, `bulwark-outcome`) and have an id derived from the event handled, so a
 * handler run twice emits the same message twice, which inboxes drop.
 */
export async function startParticipant<Payload, Transaction>(
  transport: Transport,
  participant: ParticipantDefinition<Payload, Transaction>,
  options: StartParticipantOptions<Transaction>,
): Promise<RunningParticipant> {
  if (typeof options?.store?.handler !== 'function')
    throw new InvalidOptionsError('startParticipant', ['store must be a ParticipantStore']);
  const group = options.group ?? participant.name;
  const clock = options.clock;

  const emitted = (cause: Envelope, type: string, outcome: ParticipantOutcome, payload: JsonValue): Envelope => {
    assertJson(payload, `payload of "${type}" emitted by participant "${participant.name}"`);
    return createEnvelope(
      {
        id: deterministicMessageId(`${participant.name}:${cause.id}:${outcome}`),
        topic: type,
        type,
        payload,
        causedBy: cause,
        headers: {
          [participantHeaders.participant]: participant.name,
          [participantHeaders.outcome]: outcome,
        },
      },
      clock ? { clock } : {},
    );
  };

  const contextFor = (
    event: Envelope,
    transaction: Transaction,
    signal: AbortSignal,
  ): ParticipantContext<Transaction> => ({
    flowId: event.headers.correlationId ?? event.id,
    transaction,
    event,
    signal,
    fail: participantFailure,
  });

  const forward = options.store.handler(group, async (event, transaction, signal) => {
    const context = contextFor(event, transaction, signal);
    return traceParticipant(
      participant.name,
      'participant',
      { flowId: context.flowId, eventType: event.type },
      async () => {
        const result = await participant.handle(event.payload as Payload, context);
        if (isParticipantFailure(result))
          return [emitted(event, participant.emits.failure, 'failed', { reason: result.reason })];
        return [emitted(event, participant.emits.success, 'completed', result === undefined ? null : result)];
      },
      ([first]) => (first?.type === participant.emits.failure ? 'failed' : 'completed'),
    );
  });

  const compensation = options.store.handler(group, async (event, transaction, signal) => {
    const context = contextFor(event, transaction, signal);
    return traceParticipant(
      participant.name,
      'compensate',
      { flowId: context.flowId, eventType: event.type },
      async () => {
        const result = await participant.compensate?.(event.payload as JsonValue, context);
        return [emitted(event, participant.emits.compensated, 'compensated', result === undefined ? null : result)];
      },
      () => 'compensated',
    );
  });

  const consumers: Consumer[] = [];
  try {
    consumers.push(
      await consume(transport, { ...options.consume, topic: participant.reactsTo, group, handler: forward }),
    );
    for (const type of new Set(participant.compensateOn))
      consumers.push(await consume(transport, { ...options.consume, topic: type, group, handler: compensation }));
  } catch (error) {
    await Promise.allSettled(consumers.map((consumer) => consumer.close()));
    throw error;
  }
  const running: RunningParticipant = {
    name: participant.name,
    async close() {
      await Promise.allSettled(consumers.map((consumer) => consumer.close()));
    },
    async [Symbol.asyncDispose]() {
      await running.close();
    },
  };
  return running;
}
