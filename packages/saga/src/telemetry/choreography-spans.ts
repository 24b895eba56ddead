import { meterScoped, openTelemetry, tracerScoped } from '@bulwark/resilience/telemetry';

// A participant's handling of one event is a span (`participant <name>` or `compensate <name>`),
// a child of the active span — the consumer's, so it joins the trace the event carries. The
// tracker counts how flows end (`bulwark.saga.flow.ended`, by outcome) and stall.

const scope = '@bulwark/saga';

const tracer = tracerScoped(scope);

const counters = meterScoped(scope, (meter) => ({
  ended: meter.createCounter('bulwark.saga.flow.ended', {
    description: 'Choreographed flows that ended, by flow and outcome (completed, compensated, failed).',
  }),
  stalled: meter.createCounter('bulwark.saga.flow.stalled', {
    description: 'Choreographed flows found stalled by a tracker, by flow.',
  }),
}));

/** What a participant's handling produced, for its span. */
export type ParticipantSpanOutcome = 'completed' | 'failed' | 'compensated';

/** Runs a participant's `handle` or `compensate` for one event under its span. */
export async function traceParticipant<Result>(
  participant: string,
  kind: 'participant' | 'compensate',
  attributes: { readonly flowId: string; readonly eventType: string },
  work: () => Promise<Result>,
  outcomeOf: (result: Result) => ParticipantSpanOutcome,
): Promise<Result> {
  const api = openTelemetry();
  if (!api) return work();
  const active = api.context.active();
  const span = tracer(api).startSpan(`${kind} ${participant}`, {}, active);
  const recording = span.isRecording();
  if (recording)
    span.setAttributes({
      'bulwark.saga.participant': participant,
      'bulwark.saga.id': attributes.flowId,
      'messaging.message.type': attributes.eventType,
    });
  try {
    const result = await api.context.with(api.trace.setSpan(active, span), work);
    if (recording) span.setAttribute('bulwark.saga.step.outcome', outcomeOf(result));
    return result;
  } catch (error) {
    if (recording) {
      span.setStatus({
        code: api.SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
    }
    throw error;
  } finally {
    span.end();
  }
}

/** Counts a flow that reached a terminal status. */
export function recordFlowEnded(flow: string, outcome: string): void {
  const api = openTelemetry();
  if (api) counters(api).ended.add(1, { 'bulwark.saga.name': flow, 'bulwark.saga.outcome': outcome });
}

/** Counts a flow found stalled. */
export function recordFlowStalled(flow: string): void {
  const api = openTelemetry();
  if (api) counters(api).stalled.add(1, { 'bulwark.saga.name': flow });
}
