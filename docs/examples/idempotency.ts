import {
  fingerprint,
  IdempotencyConflictError,
  IdempotencyKeyReuseError,
  idempotency,
  memoryIdempotencyStore,
} from '@bulwark/messaging';

const payments = idempotency({
  store: memoryIdempotencyStore(), // or redisIdempotencyStore(redis) / postgresIdempotencyStore(pool)
  ttlMs: 24 * 60 * 60 * 1000, // how long an outcome is replayed
  lockTtlMs: 30_000, // a crashed caller's key is free again after this
});

let charges = 0;
const charge = { orderId: 'o-42', amount: 4200, currency: 'EUR' };
const work = async () => ({ chargeId: `ch_${++charges}`, ...charge });

const first = await payments.run('order-o-42', fingerprint(charge), work); // runs the work
// A repeat (same key, same request, keys in any order) gets the stored outcome; work does not run.
const again = await payments.run('order-o-42', fingerprint({ currency: 'EUR', amount: 4200, orderId: 'o-42' }), work);
console.log(first.chargeId, again.chargeId, `charges: ${charges}`);

// The same key with another request is a client bug.
await payments
  .run('order-o-42', fingerprint({ ...charge, amount: 1 }), work)
  .catch((error: unknown) => console.log(`reuse: ${error instanceof IdempotencyKeyReuseError}`));

// A repeat while the first call still runs is refused instead of running twice.
let release = () => {};
const slow = payments.run(
  'order-o-43',
  'fp',
  () => new Promise<string>((resolve) => (release = () => resolve('done'))),
);
await payments
  .run('order-o-43', 'fp', async () => 'twice?')
  .catch((error: unknown) => console.log(`conflict: ${error instanceof IdempotencyConflictError}`));
release();
console.log(await slow);
// ch_1 ch_1 charges: 1
// reuse: true
// conflict: true
// done
