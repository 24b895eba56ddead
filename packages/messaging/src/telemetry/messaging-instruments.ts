import { meterScoped, type OpenTelemetry, tracerScoped } from '@bulwark/resilience/telemetry';
import type { Counter, Histogram, Meter, Tracer } from '@opentelemetry/api';
import type { OutboxRelay } from '../outbox/outbox.js';
import type { Projection } from '../projection/projection.js';

const scope = '@bulwark/messaging';

/**
 * Bucket boundaries in seconds for the duration histograms, as the messaging semantic
 * conventions advise (the SDK's defaults are in milliseconds and would put everything in one bucket).
 */
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The instruments of this package, created from one meter. */
export interface MessagingInstruments {
  /** `messaging.client.operation.duration`: a transport's publish (operation `send`). */
  readonly operationDuration: Histogram;
  /** `messaging.client.sent.messages`: messages a transport accepted. */
  readonly sentMessages: Counter;
  /** `messaging.process.duration`: a consumer's handling of one delivery, retries included. */
  readonly processDuration: Histogram;
  /** `messaging.client.consumed.messages`: deliveries a consumer settled, by outcome. */
  readonly consumedMessages: Counter;
  /** `bulwark.messaging.dead_letters`: messages a consumer moved to its dead-letter topic. */
  readonly deadLetters: Counter;
  /** `bulwark.outbox.dispatched`: messages a relay published and removed from the outbox. */
  readonly outboxDispatched: Counter;
  /** `bulwark.outbox.publish_failures`: failed publish attempts of a relay (each is retried). */
  readonly outboxPublishFailures: Counter;
  /** `bulwark.projection.applied`: events a projection applied to its read model. */
  readonly projectionApplied: Counter;
  /** `bulwark.projection.failures`: batches of a projection that failed (each is retried). */
  readonly projectionFailures: Counter;
  readonly meter: Meter;
}

/**
 * Relays whose lag `bulwark.outbox.lag` (and partitions held, `bulwark.outbox.partitions`) the gauges
 * report; a relay leaves the set once it has closed.
 */
export const observedRelays = new Set<OutboxRelay>();

/** Projections whose lag the `bulwark.projection.lag*` gauges report; one leaves the set once closed. */
export const observedProjections = new Set<Projection>();

function createInstruments(meter: Meter): MessagingInstruments {
  const relayGauge = (
    name: string,
    description: string,
    unit: string,
    read: (snapshot: ReturnType<OutboxRelay['snapshot']>) => number | undefined,
  ) =>
    meter.createObservableGauge(name, { description, unit }).addCallback((result) => {
      for (const relay of observedRelays) {
        const snapshot = relay.snapshot();
        if (snapshot.role === 'closed') observedRelays.delete(relay);
        else {
          const value = read(snapshot);
          if (value !== undefined) result.observe(value, { 'bulwark.outbox.name': snapshot.outbox });
        }
      }
    });
  relayGauge(
    'bulwark.outbox.lag',
    'Age of the oldest message waiting in the outbox, as the leading relay last saw it.',
    's',
    (snapshot) => (snapshot.lagMs === undefined ? undefined : snapshot.lagMs / 1000),
  );
  relayGauge(
    'bulwark.outbox.partitions',
    'Partitions of the outbox this relay publishes (relays sharing an outbox by partition).',
    '{partition}',
    (snapshot) => snapshot.partitions?.length,
  );
  const projectionLag = (
    name: string,
    description: string,
    unit: string,
    read: (snapshot: ReturnType<Projection['snapshot']>) => number | undefined,
  ) =>
    meter.createObservableGauge(name, { description, unit }).addCallback((result) => {
      for (const projection of observedProjections) {
        const snapshot = projection.snapshot();
        if (snapshot.state === 'closed') observedProjections.delete(projection);
        else {
          const value = read(snapshot);
          if (value !== undefined) result.observe(value, { 'bulwark.projection.name': snapshot.name });
        }
      }
    });
  projectionLag(
    'bulwark.projection.lag',
    'Age of the oldest event a projection has not applied yet, as its leading runner last saw it.',
    's',
    (snapshot) => (snapshot.lagMs === undefined ? undefined : snapshot.lagMs / 1000),
  );
  projectionLag(
    'bulwark.projection.lag_events',
    'Events a projection has not applied yet, as its leading runner last counted them.',
    '{event}',
    (snapshot) => snapshot.lagEvents,
  );
  const seconds = { unit: 's', advice: { explicitBucketBoundaries: durationBuckets } };
  return {
    meter,
    operationDuration: meter.createHistogram('messaging.client.operation.duration', {
      description: 'Duration of messaging operation initiated by a producer or consumer client.',
      ...seconds,
    }),
    sentMessages: meter.createCounter('messaging.client.sent.messages', {
      description: 'Number of messages producer attempted to send to the broker.',
      unit: '{message}',
    }),
    processDuration: meter.createHistogram('messaging.process.duration', {
      description: 'Duration of processing operation.',
      ...seconds,
    }),
    consumedMessages: meter.createCounter('messaging.client.consumed.messages', {
      description: 'Number of messages that were delivered to the application.',
      unit: '{message}',
    }),
    deadLetters: meter.createCounter('bulwark.messaging.dead_letters', {
      description: 'Messages a consumer gave up on and published to its dead-letter topic.',
      unit: '{message}',
    }),
    outboxDispatched: meter.createCounter('bulwark.outbox.dispatched', {
      description: 'Messages an outbox relay published and removed from the outbox.',
      unit: '{message}',
    }),
    outboxPublishFailures: meter.createCounter('bulwark.outbox.publish_failures', {
      description: 'Publish attempts of an outbox relay that failed (each is retried).',
      unit: '{attempt}',
    }),
    projectionApplied: meter.createCounter('bulwark.projection.applied', {
      description: 'Events a projection applied to its read model.',
      unit: '{event}',
    }),
    projectionFailures: meter.createCounter('bulwark.projection.failures', {
      description: 'Batches of a projection that failed (each is retried).',
      unit: '{batch}',
    }),
  };
}

/** This package's instruments from the meter provider registered now (see `meterScoped`). */
export const messagingInstruments: (api: OpenTelemetry) => MessagingInstruments = meterScoped(scope, createInstruments);

/** This package's tracer from the tracer provider registered now. */
export const messagingTracer: (api: OpenTelemetry) => Tracer = tracerScoped(scope);
