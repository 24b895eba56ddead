/**
 * RabbitMQ transport through the user's `amqplib` connection.
 *
 * @module @bulwark/messaging/amqp
 */
// Each adapter adds its export line here, one per line, grouped by issue.
// Transports (issue: transports).
export * from './amqp-transport.js';
