import { consume, createEnvelope, memoryIdempotencyStore, memoryTransport } from '@bulwark/messaging';

const transport = memoryTransport(); // or postgresTransport(pool), redisStreamsTransport(redis), amqpTransport(connect)
let billed: (orderId: number) => void = () => {};
const done = new Promise<number>((resolve) => (billed = resolve));
const consumer = await consume<{ orderId: number }>(transport, {
  topic: 'orders',
  group: 'billing',
  retry: [10, 100], // then the dead-letter topic
  deadLetter: 'orders.dead-letter',
  dedupe: { store: memoryIdempotencyStore(), windowMs: 60_000 }, // a message id is handled once
  handler: async (message) => billed(message.payload.orderId), // throw to retry
});
await transport.publish('orders', [
  createEnvelope({ topic: 'orders', type: 'order.placed', payload: { orderId: 42 } }),
]);
console.log('billed order', await done); // billed order 42
await consumer.close();
