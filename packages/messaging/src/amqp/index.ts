/**
 * RabbitMQ transport through the user's `amqplib` connection.
 *
 * @module @bulwark/messaging/amqp
 */
export * from './amqp-transport.js';
