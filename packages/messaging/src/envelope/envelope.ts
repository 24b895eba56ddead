import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@bulwark/resilience';

/**
 * Message headers. The well-known ones carry tracing through a chain of messages; any other
 * string header may be added (adapters map them to their native headers where they can).
 */
export interface MessageHeaders {
  /** Shared by every message caused, directly or not, by one original request. */
  correlationId?: string;
  /** The id of the message (or request) that caused this one. */
  causationId?: string;
  /** W3C trace context of the span that produced the message. */
  traceparent?: string;
  [name: string]: string | undefined;
}

/** A message as it travels between services. Serialized as JSON by default. */
export interface Envelope<Payload = unknown> {
  /** Unique id; consumers deduplicate on it. */
  readonly id: string;
  /** Where the message is published. */
  readonly topic: string;
  /** What the message means, e.g. `order.placed`. */
  readonly type: string;
  /** Partition/ordering key: messages with one key keep their order where a transport promises it. */
  readonly key?: string;
  /** FIFO group: consumers handle one group strictly in order, different groups in parallel. */
  readonly groupId?: string;
  readonly payload: Payload;
  readonly headers: MessageHeaders;
  /** ISO-8601 time at which the message was created. */
  readonly occurredAt: string;
}

/** What {@link createEnvelope} needs; everything else gets a default. */
export interface EnvelopeInit<Payload> {
  topic: string;
  type: string;
  payload: Payload;
  id?: string;
  key?: string;
  groupId?: string;
  headers?: MessageHeaders;
  /** Sets `causationId` to its id and carries its `correlationId` (or id) forward. */
  causedBy?: Pick<Envelope, 'id' | 'headers'>;
  occurredAt?: string;
}

/** Options of {@link createEnvelope}. */
export interface CreateEnvelopeOptions {
  /** @defaultValue `systemClock` */
  clock?: Clock;
  /** @defaultValue `crypto.randomUUID` */
  generateId?: () => string;
}

/** Builds an {@link Envelope} with an id, a timestamp and causation headers filled in. */
export function createEnvelope<Payload>(
  init: EnvelopeInit<Payload>,
  options: CreateEnvelopeOptions = {},
): Envelope<Payload> {
  const clock = options.clock ?? systemClock;
  const id = init.id ?? (options.generateId ?? randomUUID)();
  const headers: MessageHeaders = { ...init.headers };
  if (init.causedBy) {
    headers.causationId ??= init.causedBy.id;
    headers.correlationId ??= init.causedBy.headers.correlationId ?? init.causedBy.id;
  }
  headers.correlationId ??= id;
  const envelope: { -readonly [K in keyof Envelope<Payload>]: Envelope<Payload>[K] } = {
    id,
    topic: init.topic,
    type: init.type,
    payload: init.payload,
    headers,
    occurredAt: init.occurredAt ?? new Date(clock.now()).toISOString(),
  };
  if (init.key !== undefined) envelope.key = init.key;
  if (init.groupId !== undefined) envelope.groupId = init.groupId;
  return envelope;
}
