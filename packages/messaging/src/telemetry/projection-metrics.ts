import { openTelemetry } from '@bulwark/resilience/telemetry';
import type { Projection } from '../projection/projection.js';
import { messagingInstruments, observedProjections } from './messaging-instruments.js';

/**
 * Reports a projection's work as metrics: `bulwark.projection.applied` (events applied), and its
 * lag through the `bulwark.projection.lag` (s) and `bulwark.projection.lag_events` gauges.
 * Listens only when the API is installed.
 */
export function observeProjection(projection: Projection): Projection {
  const api = openTelemetry();
  if (!api) return projection;
  observedProjections.add(projection);
  projection.on('projection-batch-applied', (event) =>
    messagingInstruments(api).projectionApplied.add(event.count, {
      'bulwark.projection.name': event.projection,
      'bulwark.projection.rebuilding': event.rebuilding,
    }),
  );
  projection.on('projection-failed', (event) =>
    messagingInstruments(api).projectionFailures.add(1, { 'bulwark.projection.name': event.projection }),
  );
  return projection;
}
