import { openTelemetry } from '@bulwark/resilience/telemetry';
import type { OutboxRelay } from '../outbox/outbox.js';
import { messagingInstruments, observedRelays } from './messaging-instruments.js';

/**
 * Reports a relay's work as metrics: `bulwark.outbox.dispatched` (throughput),
 * `bulwark.outbox.publish_failures`, its lag through the `bulwark.outbox.lag` gauge and the partitions it
 * holds through `bulwark.outbox.partitions` (relays sharing an outbox by partition). Listens
 * only when the API is installed.
 */
export function observeOutboxRelay(relay: OutboxRelay): OutboxRelay {
  const api = openTelemetry();
  if (!api) return relay;
  observedRelays.add(relay);
  relay.on('outbox-dispatched', (event) =>
    messagingInstruments(api).outboxDispatched.add(event.count, {
      'bulwark.outbox.name': event.outbox,
      'messaging.destination.name': event.topic,
    }),
  );
  relay.on('outbox-publish-failed', (event) =>
    messagingInstruments(api).outboxPublishFailures.add(1, {
      'bulwark.outbox.name': event.outbox,
      'messaging.destination.name': event.topic,
    }),
  );
  return relay;
}
