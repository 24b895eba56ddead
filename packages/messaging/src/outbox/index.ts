export type {
  Outbox,
  OutboxClaim,
  OutboxClaimCheck,
  OutboxRecord,
  OutboxRelay,
  OutboxRelayRole,
  OutboxRelaySession,
  OutboxRelaySnapshot,
  OutboxRelaySource,
} from './outbox.js';
export type { OutboxRelayEvents } from './outbox-events.js';
export type { OutboxRelayOptions, ResolvedOutboxRelayOptions } from './outbox-options.js';
export { outboxRelayDefaults, resolveOutboxRelayOptions } from './outbox-options.js';
export { OutboxPublishTimeoutError, OutboxRelayClosedError, startOutboxRelay } from './outbox-relay.js';
