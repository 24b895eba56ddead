export type { BrokerTransport } from './broker-transport.js';
export type { ConnectionHealth } from './connection-health.js';
export type { MemoryTransport, MemoryTransportOptions } from './memory-transport.js';
export { memoryTransport } from './memory-transport.js';
export type {
  CloseSubscriptionOptions,
  Delivery,
  DeliveryHandler,
  NackOptions,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportCapabilities,
} from './transport.js';
export { orderingKeyOf } from './transport.js';
export { TransportClosedError, UnroutableMessageError } from './transport-errors.js';
