import type { Clock, NamedEventEmitter } from '@bulwark/resilience';
import { type OpenTelemetry, openTelemetry, telemetryRegistered } from '@bulwark/resilience/telemetry';
import type { Attributes, Context, Span } from '@opentelemetry/api';
import type { ClaimCheck } from '../claim-check/claim-check.js';
import type { ConsumerEvents } from '../consumer/consumer-events.js';
import type { Envelope } from '../envelope/envelope.js';
import { parseJsonEnvelope } from '../envelope/json-envelope.js';
import type { BeginResult } from '../idempotency/idempotency-store.js';
import type { Delivery, Transport } from '../transport/transport.js';
import { messageContext, withTraceHeaders } from './message-context.js';
import { messagingInstruments, messagingTracer } from './messaging-instruments.js';

// Spans of the messaging semantic conventions (https://opentelemetry.io/docs/specs/semconv/messaging/):
// `create <topic>` when a message is written to an outbox, `send <topic>` when a transport takes
// messages, `process <topic>` when a consumer runs its handler. Attributes are set only on spans
// that record, so nothing is allocated for them when no SDK is registered.

/** `messaging.system` for a transport: the semantic conventions' name where one exists. */
export function messagingSystem(transportName: string): string {
  return transportName === 'amqp' ? 'rabbitmq' : transportName;
}

/** How a consumer's handling of one delivery ended (`bulwark.messaging.outcome`). */
type ProcessOutcome = 'handled' | 'duplicate' | 'dead-lettered' | 'failed' | 'stopped';

/** What the consumer's events tell the process span running around them. */
interface ProcessState {
  outcome: ProcessOutcome;
  error: unknown;
}

const processStateKey = Symbol.for('bulwark.messaging.process-state');

/**
 * Whether an SDK (tracer provider, meter provider or propagator) is registered now: the per-message
 * hooks below run as plain calls when none is, so the API installed alone costs next to nothing.
 */
function observed(api: OpenTelemetry): boolean {
  return telemetryRegistered(api, messagingInstruments(api).meter);
}

function errorType(error: unknown): string {
  if (error instanceof Error) return (error as { code?: unknown }).code?.toString() ?? error.name;
  return '_OTHER';
}

function failSpan(api: OpenTelemetry, span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: api.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
  span.setAttribute('error.type', errorType(error));
}

/**
 * Writes each message to an outbox under a `create <topic>` span: the span's context goes into the
 * message's headers (and so into the outbox row), which makes the relay's `send` and the
 * consumer's `process` spans part of the trace that wrote the message. Messages that already carry
 * a `traceparent` keep it.
 */
export function withCreateSpans(system: string, messages: readonly Envelope[]): readonly Envelope[] {
  const api = openTelemetry();
  if (!api) return messages;
  const tracer = messagingTracer(api);
  const active = api.context.active();
  return messages.map((message) => {
    if (message.headers.traceparent !== undefined) return message;
    const span = tracer.startSpan(`create ${message.topic}`, { kind: api.SpanKind.PRODUCER }, active);
    if (span.isRecording())
      span.setAttributes({
        'messaging.system': system,
        'messaging.operation.type': 'create',
        'messaging.operation.name': 'create',
        'messaging.destination.name': message.topic,
        'messaging.message.id': message.id,
        ...(message.headers.correlationId === undefined
          ? {}
          : { 'messaging.message.conversation_id': message.headers.correlationId }),
      });
    const headers = withTraceHeaders(api, api.trace.setSpan(active, span), message.headers);
    span.end();
    return headers === message.headers ? message : { ...message, headers };
  });
}

/**
 * Makes `transport.publish` run under a `send <topic>` span and time it
 * (`messaging.client.operation.duration`, by the transport's clock). Changes `transport` in place
 * and returns it, so a factory ends with `return tracePublish(transport, clock)`.
 *
 * Parent and links: a publish made outside any span (the outbox relay) of a single message that
 * carries a trace context is a child of that context, so one message's trace reads
 * create → send → process; otherwise the span is a child of the active span, with a link to each
 * message's own context. A message without a trace context gets the send span's.
 */
export function tracePublish<T extends Transport>(transport: T, clock: Clock): T {
  const api = openTelemetry();
  if (!api) return transport;
  const publish = transport.publish.bind(transport);
  const system = messagingSystem(transport.name);
  const tracedPublish: Transport['publish'] = async (topic, messages, options) => {
    const tracer = messagingTracer(api);
    const active = api.context.active();
    const only = messages.length === 1 ? messages[0] : undefined;
    const carried = only && api.trace.getSpan(active) === undefined ? messageContext(api, only.headers) : undefined;
    const parent = carried ?? active;
    const span = tracer.startSpan(`send ${topic}`, { kind: api.SpanKind.PRODUCER }, parent);
    const recording = span.isRecording();
    if (recording) {
      span.setAttributes({
        'messaging.system': system,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': topic,
        ...(only ? { 'messaging.message.id': only.id } : { 'messaging.batch.message_count': messages.length }),
      });
      if (!carried)
        for (const message of messages) {
          const context = messageContext(api, message.headers);
          const linked = context && api.trace.getSpanContext(context);
          if (linked) span.addLink({ context: linked });
        }
    }
    const spanContext = api.trace.setSpan(parent, span);
    const sent = messages.map((message) => {
      if (message.headers.traceparent !== undefined) return message;
      const headers = withTraceHeaders(api, spanContext, message.headers);
      return headers === message.headers ? message : { ...message, headers };
    });
    const startedAt = clock.now();
    let failure: { error: unknown } | undefined;
    try {
      await api.context.with(spanContext, () => publish(topic, sent, options));
    } catch (error) {
      failure = { error };
      if (recording) failSpan(api, span, error);
      throw error;
    } finally {
      span.end();
      const instruments = messagingInstruments(api);
      const attributes: Attributes = {
        'messaging.system': system,
        'messaging.operation.name': 'send',
        'messaging.destination.name': topic,
        ...(failure ? { 'error.type': errorType(failure.error) } : {}),
      };
      instruments.operationDuration.record((clock.now() - startedAt) / 1000, attributes);
      instruments.sentMessages.add(messages.length, attributes);
    }
  };
  transport.publish = (topic, messages, options) =>
    observed(api) ? tracedPublish(topic, messages, options) : publish(topic, messages, options);
  const publishJson = transport.publishJson?.bind(transport);
  // The span reads and writes each message's headers: with an SDK registered, ready-made JSON is
  // parsed and published as envelopes (through the traced `publish`), exactly as before.
  if (publishJson)
    transport.publishJson = (topic, messages, options) =>
      observed(api)
        ? tracedPublish(topic, messages.map(parseJsonEnvelope), options)
        : publishJson(topic, messages, options);
  return transport;
}

/**
 * Wraps a consumer's delivery handler in a `process <topic>` span whose parent is the context the
 * message carries: a consumer handles one message at a time, and the semantic conventions allow a
 * parent for single-message processing; as a parent (rather than a link) it puts the producer's
 * and the consumer's work in one trace, which is what a waterfall shows. Retries run inside it (as
 * `retry` events), the inbox check and a dead-letter publish are its children. Records
 * `messaging.process.duration` and `messaging.client.consumed.messages` by outcome.
 */
export function traceProcessing(
  transport: Transport,
  group: string,
  clock: Clock,
  handle: (delivery: Delivery) => Promise<void>,
): (delivery: Delivery) => Promise<void> {
  const api = openTelemetry();
  if (!api) return handle;
  const system = messagingSystem(transport.name);
  const tracedHandle = async (delivery: Delivery) => {
    const message = delivery.message;
    const parent = messageContext(api, message.headers) ?? api.context.active();
    const span = messagingTracer(api).startSpan(`process ${message.topic}`, { kind: api.SpanKind.CONSUMER }, parent);
    const recording = span.isRecording();
    if (recording)
      span.setAttributes({
        'messaging.system': system,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': message.topic,
        'messaging.consumer.group.name': group,
        'messaging.message.id': message.id,
        'bulwark.messaging.delivery_count': delivery.deliveryCount,
        ...(message.headers.correlationId === undefined
          ? {}
          : { 'messaging.message.conversation_id': message.headers.correlationId }),
      });
    const state: ProcessState = { outcome: 'stopped', error: undefined };
    const startedAt = clock.now();
    try {
      await api.context.with(api.trace.setSpan(parent, span).setValue(processStateKey, state), () => handle(delivery));
    } finally {
      const failed = state.outcome === 'dead-lettered' || state.outcome === 'failed';
      if (recording) {
        span.setAttribute('bulwark.messaging.outcome', state.outcome);
        if (failed) failSpan(api, span, state.error);
      }
      span.end();
      const instruments = messagingInstruments(api);
      const attributes: Attributes = {
        'messaging.system': system,
        'messaging.operation.name': 'process',
        'messaging.destination.name': message.topic,
        'messaging.consumer.group.name': group,
        'bulwark.messaging.outcome': state.outcome,
        ...(failed ? { 'error.type': errorType(state.error) } : {}),
      };
      instruments.processDuration.record((clock.now() - startedAt) / 1000, attributes);
      instruments.consumedMessages.add(1, attributes);
    }
  };
  return (delivery) => (observed(api) ? tracedHandle(delivery) : handle(delivery));
}

/** The process span's state, when running inside {@link traceProcessing}. */
function processState(context: Context): ProcessState | undefined {
  return context.getValue(processStateKey) as ProcessState | undefined;
}

/**
 * Feeds a consumer's events to the process span around them: the outcome, a `retry` event per
 * scheduled retry, and the dead-letter count. Listens only when the API is installed, so a consumer
 * without it builds no event objects.
 */
export function traceConsumerEvents(emitter: NamedEventEmitter<ConsumerEvents>, topic: string, group: string): void {
  const api = openTelemetry();
  if (!api) return;
  const settle = (outcome: ProcessOutcome, error?: unknown) => {
    const state = processState(api.context.active());
    if (!state) return;
    state.outcome = outcome;
    state.error = error;
  };
  emitter.on('message-handled', () => settle('handled'));
  emitter.on('duplicate-skipped', () => settle('duplicate'));
  emitter.on('message-failed', (event) => settle('failed', event.error));
  emitter.on('message-dead-lettered', (event) => {
    settle('dead-lettered', event.error);
    messagingInstruments(api).deadLetters.add(1, {
      'messaging.destination.name': topic,
      'messaging.consumer.group.name': group,
      'error.type': errorType(event.error),
    });
  });
  emitter.on('retry-scheduled', (event) => {
    const span = api.trace.getActiveSpan();
    if (span?.isRecording())
      span.addEvent('retry', {
        'bulwark.messaging.attempt': event.attempt,
        'bulwark.messaging.retry_delay_ms': event.delayMs,
        'error.type': errorType(event.error),
      });
  });
}

/** Runs the consumer's inbox check under an `inbox <group>` span that says what the inbox answered. */
export async function traceInboxCheck(group: string, check: () => Promise<BeginResult>): Promise<BeginResult> {
  const api = openTelemetry();
  if (!api) return check();
  const span = messagingTracer(api).startSpan(`inbox ${group}`);
  try {
    const result = await api.context.with(api.trace.setSpan(api.context.active(), span), check);
    if (span.isRecording())
      span.setAttribute(
        'bulwark.inbox.result',
        result.kind === 'acquired' ? 'new' : result.record.status === 'completed' ? 'duplicate' : 'in-progress',
      );
    return result;
  } catch (error) {
    if (span.isRecording()) failSpan(api, span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs a transactional inbox's handler (record the id, the work, commit) under an `inbox <group>`
 * span, like the consumer's inbox check: the work runs inside it, so its own spans are children,
 * and the span says whether the id was new or a duplicate (the work skipped). `run` resolves
 * `true` for a duplicate.
 */
export async function traceInboxHandler(
  group: string,
  message: Envelope,
  run: () => Promise<boolean>,
): Promise<boolean> {
  const api = openTelemetry();
  if (!api) return run();
  const span = messagingTracer(api).startSpan(`inbox ${group}`, {
    attributes: {
      'messaging.consumer.group.name': group,
      'messaging.message.id': message.id,
      'bulwark.inbox.kind': 'transactional',
    },
  });
  try {
    const duplicate = await api.context.with(api.trace.setSpan(api.context.active(), span), run);
    if (span.isRecording()) span.setAttribute('bulwark.inbox.result', duplicate ? 'duplicate' : 'new');
    return duplicate;
  } catch (error) {
    if (span.isRecording()) failSpan(api, span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs `checkIn` and `checkOut` of a claim check under `claim-check check-in` / `check-out` spans
 * that say whether the payload went to (or came from) the blob store, and its size. Changes
 * `checks` in place and returns it.
 */
export function traceClaimCheck<T extends ClaimCheck>(checks: T, isClaimed: (message: Envelope) => boolean): T {
  const api = openTelemetry();
  if (!api) return checks;
  const checkIn = checks.checkIn.bind(checks);
  const checkOut = checks.checkOut.bind(checks);
  const traced = async <Result extends Envelope>(
    name: string,
    message: Envelope,
    claimOf: (result: Result) => Envelope,
    run: () => Promise<Result>,
  ): Promise<Result> => {
    // Outside any span (the outbox relay checks payloads in), the span joins the message's trace.
    const active = api.context.active();
    const parent = api.trace.getSpan(active) ? active : (messageContext(api, message.headers) ?? active);
    const span = messagingTracer(api).startSpan(name, {}, parent);
    try {
      const result = await api.context.with(api.trace.setSpan(parent, span), run);
      const claimed = claimOf(result);
      if (span.isRecording()) {
        span.setAttribute('bulwark.claim_check.claimed', isClaimed(claimed));
        const bytes = (claimed.payload as { bytes?: unknown } | null)?.bytes;
        if (isClaimed(claimed) && typeof bytes === 'number') span.setAttribute('bulwark.claim_check.bytes', bytes);
      }
      return result;
    } catch (error) {
      if (span.isRecording()) failSpan(api, span, error);
      throw error;
    } finally {
      span.end();
    }
  };
  checks.checkIn = ((message: Envelope, options) =>
    traced(
      'claim-check check-in',
      message,
      (result: Envelope) => result,
      () => checkIn(message, options),
    )) as ClaimCheck['checkIn'];
  checks.checkOut = ((message: Envelope, options) =>
    traced(
      'claim-check check-out',
      message,
      () => message,
      () => checkOut(message, options),
    )) as ClaimCheck['checkOut'];
  return checks;
}
