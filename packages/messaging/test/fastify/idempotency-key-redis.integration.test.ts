import { Readable } from 'node:stream';
import { idempotencyKeyPlugin } from '@bulwark/messaging/fastify';
import { redisIdempotencyStore } from '@bulwark/messaging/redis';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

// Two instances of one service behind a load balancer share the Redis store: a retry that lands
// on the other instance must see the first one's request in flight, then its stored response.
await describeWithServers('idempotencyKeyPlugin on Redis, two instances', ['redis'], ({ redis: url }) => {
  const keyPrefix = `${uniqueName('idem_http')}:`;
  const redisClients: Redis[] = [];
  const apps: FastifyInstance[] = [];
  const urls: string[] = [];
  let handled = 0;
  let open: (() => void) | undefined;

  beforeAll(async () => {
    for (let index = 0; index < 2; index++) {
      const redis = new Redis(url);
      redisClients.push(redis);
      const app = Fastify();
      await app.register(idempotencyKeyPlugin, {
        store: redisIdempotencyStore(redis, { keyPrefix }),
        scope: (request) => String(request.headers['x-user'] ?? 'anonymous'),
      });
      app.post('/payments', { config: { idempotency: true } }, async (request, reply) => {
        handled += 1;
        const body = request.body as { amount: number; wait?: boolean };
        if (body.wait) await new Promise<void>((resolve) => (open = resolve));
        return reply
          .code(201)
          .header('location', `/payments/${handled}`)
          .send({ id: handled, amount: body.amount, instance: index });
      });
      app.post('/stream', { config: { idempotency: true } }, async (_request, reply) => {
        handled += 1;
        return reply.type('text/plain').send(Readable.from(['streamed ', `${handled}`]));
      });
      apps.push(app);
      urls.push(await app.listen({ port: 0, host: '127.0.0.1' }));
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const redis of redisClients) {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  const post = (instance: number, path: string, key: string, body: unknown) =>
    fetch(`${urls[instance]}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `"${key}"`, 'x-user': 'carol' },
      body: JSON.stringify(body),
    });

  it('answers 409 on the other instance while the first request runs, then replays its response there', async () => {
    const before = handled;
    const first = post(0, '/payments', 'pay-1', { amount: 10, wait: true });
    while (!open) await new Promise((resolve) => setTimeout(resolve, 5));
    const conflict = await post(1, '/payments', 'pay-1', { amount: 10, wait: true });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('content-type')).toMatch(/application\/problem\+json/);
    open();
    const firstResponse = await first;
    expect(firstResponse.status).toBe(201);
    const replay = await post(1, '/payments', 'pay-1', { amount: 10, wait: true });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('location')).toBe(firstResponse.headers.get('location'));
    expect(await replay.json()).toEqual(await firstResponse.json());
    expect(handled).toBe(before + 1);
  });

  it('answers 422 on either instance for the key with another amount', async () => {
    await post(0, '/payments', 'pay-2', { amount: 20 });
    const reused = await post(1, '/payments', 'pay-2', { amount: 21 });
    expect(reused.status).toBe(422);
  });

  it('does not store a streamed body it cannot keep: the key is released and a retry runs again', async () => {
    const before = handled;
    const first = await post(0, '/stream', 'stream-1', {});
    expect(await first.text()).toBe(`streamed ${before + 1}`);
    const again = await post(1, '/stream', 'stream-1', {});
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await again.text()).toBe(`streamed ${before + 2}`);
  });
});
