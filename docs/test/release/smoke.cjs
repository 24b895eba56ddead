// The CommonJS twin of smoke.mjs: the same checks through require().
const {
  memoryIdempotencyStore,
  consume,
  createEnvelope,
  fingerprint,
  idempotency,
  memoryTransport,
} = require('@bulwark/messaging');
const { idempotencyKeyPlugin } = require('@bulwark/messaging/fastify');
const { circuitBreaker, consecutive, constant, pipeline, retry } = require('@bulwark/resilience');
const { defineSaga, memorySagaLog, sagaOrchestrator } = require('@bulwark/saga');
const Fastify = require('fastify');

async function main() {
  const keepAlive = setInterval(() => {}, 1_000); // library timers are unref'd; keep the script alive

  let calls = 0;
  const policy = pipeline(
    circuitBreaker({ strategy: consecutive(5) }),
    retry({ maxAttempts: 3, backoff: constant({ ms: 1 }) }),
  );
  const value = await policy.execute(async () => {
    calls += 1;
    if (calls < 3) throw new Error('flaky');
    return 'ok';
  });
  console.log(`pipeline: ${value} after ${calls} calls`);

  const once = idempotency({ store: memoryIdempotencyStore() });
  let runs = 0;
  const first = await once.run('key-1', fingerprint({ a: 1 }), async () => ++runs);
  const again = await once.run('key-1', fingerprint({ a: 1 }), async () => ++runs);
  console.log(`idempotency: ${first} ${again} runs=${runs}`);

  const transport = memoryTransport();
  const received = [];
  const consumer = await consume(transport, {
    topic: 'orders',
    group: 'smoke',
    handler: (message) => void received.push(message.payload.n),
  });
  await transport.publish(
    'orders',
    [1, 2, 3].map((n) => createEnvelope({ topic: 'orders', type: 'n', payload: { n } })),
  );
  while (received.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  await consumer.close();
  await transport.close();
  console.log(`transport: ${received.join(',')}`);

  const saga = defineSaga('smoke')
    .step('one', { execute: () => 1, compensate: () => undefined })
    .step('two', {
      execute: () => {
        throw new Error('no');
      },
    });
  const sagas = sagaOrchestrator({ log: memorySagaLog(), sagas: [saga], recoverEveryMs: false });
  await sagas.start(saga, {}, { id: 's-1' });
  const outcome = await sagas.wait('s-1');
  await sagas.close();
  console.log(`saga: ${outcome.status} at ${outcome.failedStep}`);

  const app = Fastify();
  await app.register(idempotencyKeyPlugin, { store: memoryIdempotencyStore(), scope: () => 'smoke' });
  app.post('/', { config: { idempotency: true } }, async () => ({ at: ++runs }));
  const post = () => app.inject({ method: 'POST', url: '/', headers: { 'idempotency-key': '"k"' }, payload: {} });
  const [a, b] = [await post(), await post()];
  await app.close();
  console.log(`http: ${a.body} ${b.body} ${b.headers['idempotent-replayed']}`);

  clearInterval(keepAlive);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
