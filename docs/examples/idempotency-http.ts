import { memoryIdempotencyStore } from '@bulwark/messaging';
import { idempotencyKeyPlugin } from '@bulwark/messaging/fastify';
import Fastify from 'fastify';

const app = Fastify();
await app.register(idempotencyKeyPlugin, {
  store: memoryIdempotencyStore(),
  scope: (request) => String(request.headers['x-user-id'] ?? 'anonymous'), // one client never sees another's replay
});

let orders = 0;
app.post('/orders', { config: { idempotency: true } }, async (_request, reply) => {
  orders += 1;
  return reply.code(201).header('location', `/orders/${orders}`).send({ order: orders });
});

const post = (key: string | undefined, body: object) =>
  app.inject({
    method: 'POST',
    url: '/orders',
    headers: { 'x-user-id': 'ann', ...(key ? { 'idempotency-key': `"${key}"` } : {}) },
    payload: body,
  });

const first = await post('8e03978e-40d5-43e8-bc93-6894a57f9324', { sku: 'tent' });
const replay = await post('8e03978e-40d5-43e8-bc93-6894a57f9324', { sku: 'tent' });
console.log(first.statusCode, first.body, replay.statusCode, replay.body, replay.headers['idempotent-replayed']);

const reused = await post('8e03978e-40d5-43e8-bc93-6894a57f9324', { sku: 'stove' }); // another body
const missing = await post(undefined, { sku: 'tent' });
console.log(reused.statusCode, missing.statusCode, missing.headers['content-type'], `orders: ${orders}`);
await app.close();
// 201 {"order":1} 201 {"order":1} true
// 422 400 application/problem+json orders: 1
