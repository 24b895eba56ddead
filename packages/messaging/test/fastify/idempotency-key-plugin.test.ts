import { memoryIdempotencyStore } from '@bulwark/messaging';
import { idempotencyKeyPlugin } from '@bulwark/messaging/fastify';
import Fastify from 'fastify';
import { createOrder, describeHttpIdempotency, type OrderBody } from '../idempotency/fixtures/http-scenarios.js';

describeHttpIdempotency('fastify', async (control) => {
  const app = Fastify();
  await app.register(idempotencyKeyPlugin, {
    store: memoryIdempotencyStore(),
    scope: (request) => String(request.headers['x-user'] ?? 'anonymous'),
  });
  app.post('/orders', { config: { idempotency: true } }, async (request, reply) => {
    const order = await createOrder(control, request.body as OrderBody, String(request.headers['x-user']));
    return reply.code(order.status).headers(order.headers).send(order.body);
  });
  app.post('/optional', { config: { idempotency: { required: false } } }, async () => {
    control.calls += 1;
    return { calls: control.calls };
  });
  app.post('/boom', { config: { idempotency: true } }, async () => {
    control.calls += 1;
    throw new Error('kaboom');
  });
  app.post('/unavailable', { config: { idempotency: true } }, async (_request, reply) => {
    control.calls += 1;
    return reply.code(503).send({ error: 'try later' });
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
});
