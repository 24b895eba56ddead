import {
  consume,
  createEnvelope,
  deadLetterQueue,
  memoryDeadLetterStore,
  memoryIdempotencyStore,
  memoryTransport,
  NonRetryableError,
} from '@bulwark/messaging';

const transport = memoryTransport(); // postgresTransport(pool), redisStreamsTransport(redis), amqpTransport(connect)
const handled: string[] = [];
let emailServiceUp = false;

const consumer = await consume<{ orderId: number; step: string }>(transport, {
  topic: 'orders',
  group: 'billing', // instances with the same group share the work; every group gets every message
  concurrency: 4,
  retry: [10, 20], // up to 3 runs, in process, then the dead-letter topic
  deadLetter: 'orders.dead-letter',
  ordering: 'fifo-group', // one groupId strictly in order; different groups in parallel
  dedupe: { store: memoryIdempotencyStore(), windowMs: 5 * 60_000 }, // the inbox: a message id runs once
  handler: async (message) => {
    if (message.type === 'order.bogus') throw new NonRetryableError('cannot bill a bogus order'); // no retry
    if (message.type === 'order.email' && !emailServiceUp) throw new Error('email service down');
    handled.push(`${message.groupId}:${message.payload.step}`);
  },
});
const retries: number[] = [];
consumer.on('retry-scheduled', ({ delayMs }) => retries.push(delayMs));

// The dead-letter queue keeps what lands on the dead-letter topic, for inspection and replay.
const dlq = await deadLetterQueue(transport, { topic: 'orders.dead-letter', store: memoryDeadLetterStore() });

const order = (type: string, groupId: string, step: string) =>
  createEnvelope({ topic: 'orders', type, groupId, payload: { orderId: 1, step } });
const placed = order('order.placed', 'customer-7', 'placed');
await transport.publish('orders', [
  placed,
  order('order.paid', 'customer-7', 'paid'), // handled after 'placed': same FIFO group
  order('order.placed', 'customer-9', 'placed'),
  order('order.bogus', 'customer-9', 'bogus'),
  order('order.email', 'customer-5', 'email'),
]);
await transport.publish('orders', [placed]); // a duplicate (same id): the inbox skips it

const until = async (done: () => boolean | Promise<boolean>) => {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 5));
};
await until(async () => (await dlq.list()).length === 2);
console.log(handled.filter((step) => step.startsWith('customer-7')).join(' '), `| retry delays: ${retries}`);

const letters = await dlq.list({ originalTopic: 'orders' });
console.log(letters.map((letter) => `${letter.message.type}: ${letter.message.headers['x-dead-letter-error']}`).sort());

// The email service is back: replay that dead letter to its original topic (same message id).
emailServiceUp = true;
const email = letters.find((letter) => letter.message.type === 'order.email');
console.log(`replayed ${await dlq.replay({ ids: email ? [email.message.id] : [] })}`);
await until(() => handled.includes('customer-5:email'));
const { handled: count, deadLettered, duplicates } = consumer.snapshot();
console.log({ handled: count, deadLettered, duplicates });

await consumer.close({ deadlineMs: 1_000 });
await dlq.close();
await transport.close();
// customer-7:placed customer-7:paid | retry delays: 10,20
// [
//   'order.bogus: cannot bill a bogus order',
//   'order.email: email service down'
// ]
// replayed 1
// { handled: 4, deadLettered: 2, duplicates: 1 }
