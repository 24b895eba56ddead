export type {
  Delivery,
  DeliveryHandler,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportCapabilities,
} from './transport.js';
