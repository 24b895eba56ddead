import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestShop, type TestShop } from './test-shop.js';

describe('ops endpoints', () => {
  let shop: TestShop;
  let adminToken: string;
  let customerToken: string;

  const login = async (email: string, password: string) =>
    ((await (await shop.request('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string })
      .token;

  beforeAll(async () => {
    shop = await startTestShop();
    adminToken = await login(shop.admin.email, shop.admin.password);
    await shop.request('POST', '/api/users', {
      body: { username: 'carl', email: 'carl@example.com', password: 'carl-password' },
    });
    customerToken = await login('carl@example.com', 'carl-password');
  });
  afterAll(() => shop?.close());

  it('needs the admin role', async () => {
    expect((await shop.request('GET', '/ops/faults')).status).toBe(401);
    expect((await shop.request('GET', '/ops/faults', { token: customerToken })).status).toBe(403);
    expect((await shop.request('POST', '/ops/faults', { token: customerToken, body: { reset: true } })).status).toBe(
      403,
    );
    expect((await shop.request('GET', '/ops/mail', { token: customerToken })).status).toBe(403);
  });

  it('reads query parameters: mail and sagas with a limit', async () => {
    expect((await shop.request('GET', '/ops/mail?limit=5', { token: adminToken })).status).toBe(200);
    expect((await shop.request('GET', '/ops/sagas?limit=5&status=completed', { token: adminToken })).status).toBe(200);
    expect((await shop.request('GET', '/ops/sagas?limit=5000', { token: adminToken })).status).toBe(400);
    expect((await shop.request('GET', '/ops/sagas?status=nope', { token: adminToken })).status).toBe(400);
  });

  it('switches single faults and named scenarios, and resets them', async () => {
    const single = await shop.request('POST', '/ops/faults', {
      token: adminToken,
      body: { target: 'payment', settings: { down: true } },
    });
    expect(single.status).toBe(200);
    expect(((await single.json()) as { faults: { payment: { down: boolean } } }).faults.payment.down).toBe(true);

    const scenario = await shop.request('POST', '/ops/faults', {
      token: adminToken,
      body: { scenario: 'email-outage' },
    });
    expect(((await scenario.json()) as { faults: { email: { down: boolean } } }).faults.email.down).toBe(true);

    // A scenario replaces what was on: payment-flaky after an outage is flaky, not still down.
    await shop.request('POST', '/ops/faults', { token: adminToken, body: { scenario: 'payment-outage' } });
    const flaky = await shop.request('POST', '/ops/faults', { token: adminToken, body: { scenario: 'payment-flaky' } });
    const flakyFaults = ((await flaky.json()) as { faults: Record<string, { down: boolean; errorRate: number }> })
      .faults;
    expect(flakyFaults.payment).toMatchObject({ down: false, errorRate: 0.3 });
    expect(flakyFaults.email?.down).toBe(false);

    const unknown = await shop.request('POST', '/ops/faults', { token: adminToken, body: { scenario: 'nope' } });
    expect(unknown.status).toBe(400);
    const invalid = await shop.request('POST', '/ops/faults', {
      token: adminToken,
      body: { target: 'payment', settings: { errorRate: 3 } },
    });
    expect(invalid.status).toBe(400);

    await shop.request('POST', '/ops/faults', { token: adminToken, body: { reset: true } });
    const after = (await (await shop.request('GET', '/ops/faults', { token: adminToken })).json()) as {
      faults: Record<string, { down: boolean }>;
    };
    expect(after.faults.payment?.down).toBe(false);
    expect(after.faults.email?.down).toBe(false);
  });
});
