// Internal: OpenTelemetry instrumentation of this package (not exported from the package entry).
export {
  traceClaimCheck,
  traceConsumerEvents,
  traceInboxCheck,
  traceProcessing,
  tracePublish,
  withCreateSpans,
} from './message-spans.js';
export { observeOutboxRelay } from './outbox-relay-metrics.js';
