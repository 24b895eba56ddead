import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderUnavailableError, postgresFaults } from '../src/faults/faults.js';
import { paymentProviderClient, paymentProviderRoutes } from '../src/payments/payment-http.js';
import { PaymentDeclinedError } from '../src/payments/payment-provider.js';
import { paymentSimulator } from '../src/payments/payment-simulator.js';
import { startTestShop, type TestShop } from './test-shop.js';

describe('payment provider simulator over HTTP', () => {
  let shop: TestShop;
  let service: ReturnType<typeof Fastify>;
  let client: ReturnType<typeof paymentProviderClient>;
  let faults: ReturnType<typeof postgresFaults>;

  beforeAll(async () => {
    shop = await startTestShop();
    const pool = shop.pool;
    faults = postgresFaults(pool, { refreshMs: 0 });
    service = Fastify();
    await paymentProviderRoutes(service, paymentSimulator(pool, faults));
    client = paymentProviderClient(await service.listen({ port: 0, host: '127.0.0.1' }));
  });
  afterAll(async () => {
    await service?.close();
    await shop?.close();
  });

  it('authorizes once per idempotency key, however often it is retried', async () => {
    const request = { orderId: 'o-1', amountCents: 1_000, idempotencyKey: 'o-1:authorize' };
    const first = await client.authorize(request);
    const again = await client.authorize(request);
    expect(again.authorizationId).toBe(first.authorizationId);
    const { rows } = await shop.pool.query("SELECT count(*)::int AS n FROM provider_payments WHERE order_id = 'o-1'");
    expect(rows[0].n).toBe(1);
  });

  it('declines, fails and goes down as the fault switches say, then recovers', async () => {
    await faults.set('payment', { declineRate: 1 });
    await expect(client.authorize({ orderId: 'o-2', amountCents: 5, idempotencyKey: 'k2' })).rejects.toBeInstanceOf(
      PaymentDeclinedError,
    );
    await faults.set('payment', { declineRate: 0, down: true });
    await expect(client.authorize({ orderId: 'o-2', amountCents: 5, idempotencyKey: 'k2' })).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    await faults.reset();
    await expect(client.authorize({ orderId: 'o-2', amountCents: 5, idempotencyKey: 'k2' })).resolves.toHaveProperty(
      'authorizationId',
    );
  });

  it('reports an unreachable service as a transient failure', async () => {
    const nowhere = paymentProviderClient('http://127.0.0.1:9');
    await expect(
      nowhere.capture({ orderId: 'o', authorizationId: 'a', amountCents: 1, idempotencyKey: 'k' }),
    ).rejects.toBeInstanceOf(ProviderUnavailableError);
  });

  it('retries a 503 once through resilientFetch, with the same Idempotency-Key, and not a third time', async () => {
    const keys: (string | undefined)[] = [];
    let healthy = true;
    const flaky = createServer((request, response) => {
      keys.push(request.headers['idempotency-key'] as string | undefined);
      if (!healthy || keys.length === 1) response.writeHead(503, { 'retry-after': '0' }).end();
      else response.writeHead(200, { 'content-type': 'application/json' }).end('{"authorizationId":"a-1"}');
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      const flakyClient = paymentProviderClient(`http://127.0.0.1:${(flaky.address() as AddressInfo).port}`);
      const request = { orderId: 'o-3', amountCents: 100, idempotencyKey: 'o-3:authorize' };
      await expect(flakyClient.authorize(request)).resolves.toEqual({ authorizationId: 'a-1' });
      expect(keys).toEqual(['o-3:authorize', 'o-3:authorize']);
      healthy = false;
      keys.length = 0;
      await expect(flakyClient.authorize(request)).rejects.toBeInstanceOf(ProviderUnavailableError);
      expect(keys).toEqual(['o-3:authorize', 'o-3:authorize']);
    } finally {
      flaky.closeAllConnections();
      await new Promise<void>((resolve) => flaky.close(() => resolve()));
    }
  });
});
