/**
 * NATS JetStream transport through the user's `@nats-io/transport-node` connection.
 *
 * @module @bulwark/messaging/nats
 */
export type { NatsGroupSnapshot, NatsTransport } from './nats-transport.js';
export { natsCapabilities, natsTransport } from './nats-transport.js';
export type { NatsTransportOptions } from './nats-transport-options.js';
export { natsTransportDefaults } from './nats-transport-options.js';
