import { createEnvelope, memoryTransport } from '@bulwark/messaging';
import {
  choreographyTracker,
  defineChoreography,
  defineParticipant,
  memoryParticipantStore,
  memorySagaLog,
  startParticipant,
} from '@bulwark/saga';

// Three services, each reacting to the event before it. With PostgreSQL, use
// postgresParticipantStore({ inbox, outbox }) and write your change with `transaction` (a pg client):
// the change, the inbox record and the emitted event then commit together.
const inventory = defineParticipant<{ sku: string; amount: number }>({
  name: 'inventory',
  reactsTo: 'order.placed',
  emits: { success: 'stock.reserved', failure: 'stock.rejected', compensated: 'stock.released' },
  handle: (order) => ({ sku: order.sku, amount: order.amount }),
  compensateOn: ['payment.failed', 'order.cancel'], // undo on these events
  compensate: (_event, { flowId }) => ({ released: flowId }),
});
const payment = defineParticipant<{ amount: number }>({
  name: 'payment',
  reactsTo: 'stock.reserved',
  emits: { success: 'payment.charged', failure: 'payment.failed' },
  handle: (reserved, { fail }) => (reserved.amount > 1_000 ? fail('card declined') : { charged: reserved.amount }),
});
const shipping = defineParticipant({
  name: 'shipping',
  reactsTo: 'payment.charged',
  emits: { success: 'shipment.scheduled', failure: 'shipment.failed' },
  handle: () => ({ carrier: 'dhl' }),
});

// The tracker sees the whole flow: it records it by correlation id in a saga log of its own.
const placeOrder = defineChoreography({
  name: 'place-order',
  startsWith: 'order.placed',
  completesWith: 'shipment.scheduled',
  participants: [inventory, payment, shipping],
  stallAfterMs: 60_000, // silent that long: `place-order.timed-out` is published…
  onStall: { compensateWith: 'order.cancel' }, // …and this one, so the others undo their part
});

const transport = memoryTransport();
const tracker = choreographyTracker({ log: memorySagaLog(), transport, flows: [placeOrder] });
await tracker.start();
const store = memoryParticipantStore(transport);
const services = await Promise.all(
  [inventory, payment, shipping].map((participant) => startParticipant(transport, participant, { store })),
);

const place = async (id: string, amount: number) =>
  transport.publish('order.placed', [
    createEnvelope({ id, topic: 'order.placed', type: 'order.placed', payload: { sku: 'tent', amount } }),
  ]);
const ended = async (id: string) => {
  for (;;) {
    const flow = await tracker.get(id);
    if (flow?.status === 'completed' || flow?.status === 'compensated' || flow?.status === 'failed') return flow;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

await place('order-1', 199);
console.log('order-1', (await ended('order-1')).status);
await place('order-2', 5_000);
console.log('order-2', (await ended('order-2')).status);
const timeline = await tracker.history('order-2'); // the same shape as an orchestrated run's
console.log(timeline.map((entry) => (entry.step ? `${entry.kind}(${entry.step})` : entry.kind)).join('\n'));

for (const service of services) await service.close();
await tracker.close();
await transport.close();
// order-1 completed
// order-2 compensated
// saga-started
// step-completed(inventory)
// step-failed(payment)
// step-compensated(inventory)
// saga-compensated
