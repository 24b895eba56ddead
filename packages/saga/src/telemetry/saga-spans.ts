import { meterScoped, type OpenTelemetry, openTelemetry, tracerScoped } from '@bulwark/resilience/telemetry';
import type { Context, Histogram, Span } from '@opentelemetry/api';
import type { JsonValue } from '../definition/json.js';
import type { SagaStatus } from '../log/saga-log.js';

// A saga run is one trace: `saga <name>` is its root (made when the run starts, its context kept in
// the log's `saga-started` entry), every stretch of driving the run in one process is a
// `run <name>` child of it (so a run resumed by another process after a crash continues the same
// trace), and each step and compensation is a span under the run span.

const scope = '@bulwark/saga';

/** The trace context of a run, as W3C headers (`traceparent`, `tracestate`, `baggage`). */
export type SagaTraceContext = Readonly<Record<string, string>>;

const tracer = tracerScoped(scope);

/** `bulwark.saga.duration`, made again when the meter provider changed (the metrics API has no proxy). */
const durationHistogram = meterScoped(
  scope,
  (meter): Histogram =>
    meter.createHistogram('bulwark.saga.duration', {
      description: 'Time from the start of a saga run to its end, by outcome.',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] },
    }),
);

function fail(api: OpenTelemetry, span: Span, message: string, errorType: string): void {
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
  span.setAttribute('error.type', errorType);
}

/**
 * Starts the root span of a new run (`saga <name>`, a child of the caller's active span) and ends
 * it at once: a span that is ended is exported even if the process dies right after. Returns its
 * context as headers, for the `saga-started` entry; `undefined` when nothing is traced.
 */
export function startSagaTrace(sagaName: string, sagaId: string): SagaTraceContext | undefined {
  const api = openTelemetry();
  if (!api) return undefined;
  const active = api.context.active();
  const span = tracer(api).startSpan(`saga ${sagaName}`, {}, active);
  if (span.isRecording()) span.setAttributes({ 'bulwark.saga.name': sagaName, 'bulwark.saga.id': sagaId });
  const carrier: Record<string, string> = {};
  api.propagation.inject(api.trace.setSpan(active, span), carrier, api.defaultTextMapSetter);
  span.end();
  for (const _name in carrier) return carrier;
  return undefined;
}

/** The `data` of a `saga-started` entry that keeps the run's trace context (nothing without one). */
export function sagaStartedData(trace: SagaTraceContext | undefined): { data?: JsonValue } {
  return trace ? { data: { trace } } : {};
}

/** The trace context a `saga-started` entry kept, if any. */
export function sagaTraceOf(data: JsonValue | undefined): SagaTraceContext | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const trace = (data as { readonly [key: string]: JsonValue }).trace;
  if (typeof trace !== 'object' || trace === null || Array.isArray(trace)) return undefined;
  const carrier: Record<string, string> = {};
  for (const [name, value] of Object.entries(trace)) if (typeof value === 'string') carrier[name] = value;
  return carrier;
}

/** What a traced piece of a run says about how it went. */
export interface TracedOutcome {
  readonly outcome: string;
  /** Set when the outcome is a failure. */
  readonly error?: { readonly message: string; readonly type: string };
}

/** The run the spans belong to. */
export interface TracedRun {
  readonly id: string;
  readonly saga: { readonly name: string };
  readonly createdAt: number;
  readonly trace?: SagaTraceContext | undefined;
}

/**
 * Drives a run (`drive`) under a `run <name>` span whose parent is the run's stored trace context.
 * When the run ends, records `bulwark.saga.duration` (from the run's creation) by outcome.
 */
export async function traceSagaRun<Outcome extends { readonly status: SagaStatus } | undefined>(
  run: TracedRun,
  now: () => number,
  drive: () => Promise<Outcome>,
): Promise<Outcome> {
  const api = openTelemetry();
  if (!api) return drive();
  const stored = run.trace && api.propagation.extract(api.ROOT_CONTEXT, run.trace, api.defaultTextMapGetter);
  const parent: Context = stored ?? api.context.active();
  const span = tracer(api).startSpan(`run ${run.saga.name}`, {}, parent);
  const recording = span.isRecording();
  if (recording) span.setAttributes({ 'bulwark.saga.name': run.saga.name, 'bulwark.saga.id': run.id });
  try {
    const outcome = await api.context.with(api.trace.setSpan(parent, span), drive);
    if (outcome) {
      if (recording) {
        span.setAttribute('bulwark.saga.outcome', outcome.status);
        if (outcome.status === 'failed') fail(api, span, 'a compensation kept failing', 'saga-failed');
      }
      durationHistogram(api).record((now() - run.createdAt) / 1000, {
        'bulwark.saga.name': run.saga.name,
        'bulwark.saga.outcome': outcome.status,
      });
    } else if (recording) span.setAttribute('bulwark.saga.outcome', 'suspended');
    return outcome;
  } catch (error) {
    if (recording) fail(api, span, error instanceof Error ? error.message : String(error), 'interrupted');
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs one step (`kind: 'step'`) or compensation under a `step <name>` / `compensate <name>` span,
 * a child of the run span; `outcomeOf` reads how it went from its result.
 */
export async function traceSagaStep<Result>(
  run: TracedRun,
  kind: 'step' | 'compensate',
  step: string,
  work: () => Promise<Result>,
  outcomeOf: (result: Result) => TracedOutcome,
): Promise<Result> {
  const api = openTelemetry();
  if (!api) return work();
  const active = api.context.active();
  const span = tracer(api).startSpan(`${kind} ${step}`, {}, active);
  const recording = span.isRecording();
  if (recording)
    span.setAttributes({ 'bulwark.saga.name': run.saga.name, 'bulwark.saga.id': run.id, 'bulwark.saga.step': step });
  try {
    const result = await api.context.with(api.trace.setSpan(active, span), work);
    if (recording) {
      const { outcome, error } = outcomeOf(result);
      span.setAttribute('bulwark.saga.step.outcome', outcome);
      if (error) fail(api, span, error.message, error.type);
    }
    return result;
  } catch (error) {
    if (recording) fail(api, span, error instanceof Error ? error.message : String(error), 'interrupted');
    throw error;
  } finally {
    span.end();
  }
}

/** Adds an event to the span of the step running now (e.g. `reply-awaited`, with its correlation id). */
export function sagaStepEvent(name: string, attributes: Record<string, string | number>): void {
  const span = openTelemetry()?.trace.getActiveSpan();
  if (span?.isRecording()) span.addEvent(name, attributes);
}
