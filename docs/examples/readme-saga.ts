import { defineSaga, memorySagaLog, sagaOrchestrator } from '@bulwark/saga';

const placeOrder = defineSaga<{ orderId: string; amount: number }>('place-order')
  .step('reserve-stock', { execute: () => ({ reservationId: 'r-1' }), compensate: () => console.log('stock released') })
  .step('charge-payment', {
    execute: ({ input }) => {
      if (input.amount > 1_000) throw new Error('card declined');
      return { paymentId: 'p-1' };
    },
  });

const sagas = sagaOrchestrator({ log: memorySagaLog(), sagas: [placeOrder] }); // postgresSagaLog(pool) survives crashes
await sagas.start(placeOrder, { orderId: 'o-1', amount: 5_000 }, { id: 'o-1' }); // idempotent by id
console.log((await sagas.wait('o-1')).status); // stock released, then: compensated
await sagas.close();
