import type { Attributes, Counter, Meter } from '@opentelemetry/api';
import { type OpenTelemetry, openTelemetry } from './open-telemetry.js';
import { meterScoped } from './provider-scoped.js';

// Telemetry of the policies. Traces: policies add span events to the caller's active span rather
// than making spans of their own. A policy runs around almost every outgoing call and its happy path
// costs a few hundred nanoseconds; a span per execution would cost more than the policy itself and
// add nothing the caller's own span (an HTTP client span, a saga step) does not already show. What
// is worth seeing — a retry, a rejection, a timeout, a breaker changing state — is rare, and is
// recorded as an event on that span only when it happens and only when the span records.
// Metrics: counters touched only on those rare paths, and observable instruments read from the
// policies' own counts at collection time, so the happy path pays one integer increment.

const scope = '@bulwark/resilience';

/** A policy that reports through observable instruments: read at collection, never pushed. */
export interface ObservedPolicy {
  /** Reports the policy's current values. */
  observe(report: PolicyObservations): void;
}

/** Where an {@link ObservedPolicy} reports. */
export interface PolicyObservations {
  breakerState(value: number, attributes: Attributes): void;
  breakerCalls(value: number, attributes: Attributes): void;
  bulkheadQueued(value: number, attributes: Attributes): void;
  bulkheadRunning(value: number, attributes: Attributes): void;
}

/** The synchronous instruments, for the rare paths. */
export interface ResilienceInstruments {
  /** `bulwark.retry.attempts`: attempts after the first, with the `error.type` that caused each. */
  readonly attempts: Counter;
  /** `bulwark.retry.give_ups`: retry policies that gave up, by reason. */
  readonly giveUps: Counter;
  /** `bulwark.timeout.timeouts`: calls whose deadline passed. */
  readonly timeouts: Counter;
  /** `bulwark.bulkhead.rejections`: calls a bulkhead refused, by reason. */
  readonly bulkheadRejections: Counter;
  /** `bulwark.rate_limit.decisions`: rate-limit decisions, allowed or not. */
  readonly rateLimitDecisions: Counter;
  /** `bulwark.circuit_breaker.transitions`: state changes, by the state entered. */
  readonly breakerTransitions: Counter;
}

/** Policies read by the observable instruments; held weakly, so a dropped policy is collected. */
const observed = new Set<WeakRef<ObservedPolicy>>();

function createInstruments(meter: Meter): ResilienceInstruments {
  const breakerState = meter.createObservableGauge('bulwark.circuit_breaker.state', {
    description: 'Whether the circuit is in the state of the `bulwark.circuit_breaker.state` attribute (1) or not (0).',
    unit: '1',
  });
  const breakerCalls = meter.createObservableCounter('bulwark.circuit_breaker.calls', {
    description: 'Calls that went through a circuit breaker, by outcome (success, failure, rejected).',
    unit: '{call}',
  });
  const bulkheadQueued = meter.createObservableUpDownCounter('bulwark.bulkhead.queued', {
    description: 'Calls waiting in a bulkhead queue.',
    unit: '{call}',
  });
  const bulkheadRunning = meter.createObservableUpDownCounter('bulwark.bulkhead.running', {
    description: 'Calls running inside a bulkhead.',
    unit: '{call}',
  });
  meter.addBatchObservableCallback(
    (result) => {
      const report: PolicyObservations = {
        breakerState: (value, attributes) => result.observe(breakerState, value, attributes),
        breakerCalls: (value, attributes) => result.observe(breakerCalls, value, attributes),
        bulkheadQueued: (value, attributes) => result.observe(bulkheadQueued, value, attributes),
        bulkheadRunning: (value, attributes) => result.observe(bulkheadRunning, value, attributes),
      };
      for (const reference of observed) {
        const policy = reference.deref();
        if (policy) policy.observe(report);
        else observed.delete(reference);
      }
    },
    [breakerState, breakerCalls, bulkheadQueued, bulkheadRunning],
  );
  return {
    attempts: meter.createCounter('bulwark.retry.attempts', {
      description: 'Attempts a retry policy made after the first, by the `error.type` of the failure retried.',
      unit: '{attempt}',
    }),
    giveUps: meter.createCounter('bulwark.retry.give_ups', {
      description: 'Times a retry policy gave up and passed the last failure on, by reason.',
      unit: '{call}',
    }),
    timeouts: meter.createCounter('bulwark.timeout.timeouts', {
      description: 'Calls whose timeout passed.',
      unit: '{timeout}',
    }),
    bulkheadRejections: meter.createCounter('bulwark.bulkhead.rejections', {
      description: 'Calls a bulkhead refused, by reason (full, queue-timeout).',
      unit: '{call}',
    }),
    rateLimitDecisions: meter.createCounter('bulwark.rate_limit.decisions', {
      description: 'Rate-limit decisions, by limiter and whether the call was allowed.',
      unit: '{decision}',
    }),
    breakerTransitions: meter.createCounter('bulwark.circuit_breaker.transitions', {
      description: 'Circuit breaker state changes, by the state entered.',
      unit: '{transition}',
    }),
  };
}

/**
 * The instruments on the meter provider registered now (see `meterScoped`): these are the rare
 * paths, and the observable instruments are registered on a new provider at its first use.
 */
export const resilienceInstruments: (api: OpenTelemetry) => ResilienceInstruments = meterScoped(
  scope,
  createInstruments,
);

/** Reports `policy` through the observable instruments from now on (when the API is installed). */
export function observePolicy(policy: ObservedPolicy): void {
  const api = openTelemetry();
  if (!api) return;
  resilienceInstruments(api);
  observed.add(new WeakRef(policy));
}

/**
 * Records a rare happening of a policy: an event on the caller's active span (when it records) and
 * a count on one of the synchronous instruments. `attributes` is called only when needed.
 */
export function policyEvent(
  name: string,
  attributes: () => Attributes,
  count?: (instruments: ResilienceInstruments, attributes: Attributes) => void,
): void {
  const api = openTelemetry();
  if (!api) return;
  const span = api.trace.getActiveSpan();
  const recording = span?.isRecording() === true;
  if (!recording && count === undefined) return;
  const values = attributes();
  if (recording) span?.addEvent(name, values);
  count?.(resilienceInstruments(api), values);
}

/** The `error.type` of an error: its `code` if it has one, else its class name. */
export function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.name;
  }
  return '_OTHER';
}

/** Counts a bulkhead's refusal (`bulwark.bulkhead.rejections`); from the timer too, metrics have no span. */
export function countBulkheadRejection(bulkhead: string, reason: string): void {
  const api = openTelemetry();
  if (api)
    resilienceInstruments(api).bulkheadRejections.add(1, {
      'bulwark.bulkhead.name': bulkhead,
      'bulwark.bulkhead.reason': reason,
    });
}

/**
 * Counts a rate limiter's decisions (`bulwark.rate_limit.decisions`) and puts a refusal on the
 * caller's active span. Returns `decision` unchanged when the API is not installed.
 */
export function traceRateLimitDecision<Decision extends { readonly allowed: boolean; readonly retryAfterMs: number }>(
  limiter: string | undefined,
  decision: Promise<Decision>,
): Promise<Decision> {
  const api = openTelemetry();
  if (!api) return decision;
  const allowed = { 'bulwark.rate_limit.name': limiter ?? '', 'bulwark.rate_limit.allowed': true };
  const refused = { 'bulwark.rate_limit.name': limiter ?? '', 'bulwark.rate_limit.allowed': false };
  return decision.then((result) => {
    resilienceInstruments(api).rateLimitDecisions.add(1, result.allowed ? allowed : refused);
    if (!result.allowed)
      policyEvent('rate_limit.rejected', () => ({
        ...refused,
        'bulwark.rate_limit.retry_after_ms': result.retryAfterMs,
      }));
    return result;
  });
}
