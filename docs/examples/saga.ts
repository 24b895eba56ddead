import { constant, retry } from '@bulwark/resilience';
import { defineSaga, memorySagaLog, sagaOrchestrator } from '@bulwark/saga';

interface PlaceOrder {
  orderId: string;
  sku: string;
  amount: number;
}

// Services the saga calls; each takes the step's idempotency key so a repeat has no second effect.
const effects: string[] = [];
const stock = {
  reserve: async (sku: string, key: string) => {
    effects.push(`reserve ${sku}`);
    return { reservationId: `r-${key}` };
  },
  release: async (reservationId: string) => void effects.push(`release ${reservationId}`),
};
const payments = {
  charge: async (amount: number) => {
    if (amount > 1_000) throw new Error('card declined');
    effects.push(`charge ${amount}`);
    return { paymentId: `p-${amount}` };
  },
  refund: async (paymentId: string) => void effects.push(`refund ${paymentId}`),
};

const placeOrder = defineSaga<PlaceOrder>('place-order')
  .step('reserve-stock', {
    execute: ({ input, idempotencyKey }) => stock.reserve(input.sku, idempotencyKey),
    compensate: ({ result }) => stock.release(result.reservationId),
  })
  .step('charge-payment', {
    execute: ({ input }) => payments.charge(input.amount),
    compensate: ({ result }) => payments.refund(result.paymentId), // `result` is typed: { paymentId }
    retry: retry({ maxAttempts: 2, backoff: constant({ ms: 1 }) }), // any Policy
    timeoutMs: 5_000, // per attempt
  })
  .step('create-shipment', {
    // `results` holds what earlier steps returned, typed by step name.
    execute: ({ input, results }) => ({ shipmentFor: input.orderId, payment: results['charge-payment'].paymentId }),
  });

// memorySagaLog() keeps runs in this process; postgresSagaLog(pool) makes them survive a crash.
const sagas = sagaOrchestrator({ log: memorySagaLog(), sagas: [placeOrder], recoverEveryMs: false });
sagas.on('saga-compensated', ({ sagaId }) => console.log(`event: ${sagaId} compensated`));

await sagas.start(placeOrder, { orderId: 'o-1', sku: 'tent', amount: 199 }, { id: 'o-1' }); // idempotent by id
const done = await sagas.wait('o-1');
console.log(done.status, JSON.stringify(done.results['create-shipment']));

await sagas.start(placeOrder, { orderId: 'o-2', sku: 'stove', amount: 5_000 }, { id: 'o-2' });
const undone = await sagas.wait('o-2');
console.log(undone.status, undone.failedStep, undone.error?.message);
console.log(effects.join(', '));

const timeline = await sagas.history('o-2');
console.log(timeline.map((entry) => (entry.step ? `${entry.kind}(${entry.step})` : entry.kind)).join('\n'));
console.log(JSON.stringify(await sagas.counts()));
await sagas.close();
// completed {"shipmentFor":"o-1","payment":"p-199"}
// event: o-2 compensated
// compensated charge-payment card declined
// reserve tent, charge 199, reserve stove, release r-o-2:reserve-stock
// saga-started
// step-intent(reserve-stock)
// step-completed(reserve-stock)
// step-intent(charge-payment)
// step-attempt-failed(charge-payment)
// step-attempt-failed(charge-payment)
// step-failed(charge-payment)
// compensation-intent(reserve-stock)
// step-compensated(reserve-stock)
// saga-compensated
// {"running":0,"compensating":0,"completed":1,"compensated":1,"failed":0}
