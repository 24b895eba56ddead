/**
 * RabbitMQ transport through the user's `amqplib` connection.
 *
 * @module @bulwark/messaging/amqp
 */
export { delayBucketMs } from './amqp-delay-bucket.js';
export {
  type AmqpGroupSnapshot,
  type AmqpTransport,
  amqpCapabilities,
  amqpTransport,
} from './amqp-transport.js';
export type { AmqpConnectionSource, AmqpTransportOptions } from './amqp-transport-options.js';
