// A short run of the load driver (`pnpm --filter simple-eshop load` runs the long one): mixed
// traffic with the black-friday faults on, then every invariant of the shop's books must hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../src/load/load-run.js';
import { startTestShop, type TestShop } from './test-shop.js';

describe('load with faults', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({
      LOG_LEVEL: 'error',
      SHOP_RETRY_DELAYS_MS: '200,500',
      SHOP_BREAKER_HALF_OPEN_MS: '1000',
    });
  });
  afterAll(() => shop?.close());

  it('keeps the books straight: every order ends, stock adds up, captures match confirmations, DLQ drains', async () => {
    const report = await runLoad({
      url: shop.url,
      pool: shop.pool,
      admin: shop.admin,
      durationMs: 5_000,
      shoppers: 8,
      faults: [{ scenario: 'black-friday' }],
    });
    expect(report.orders.placed).toBeGreaterThan(10);
    expect(report.orders.confirmed + report.orders.cancelled).toBe(report.orders.placed);
    expect(report.errors5xx).toBe(0);
    for (const [name, result] of Object.entries(report.invariants))
      expect(result.ok, `${name}: ${result.detail}`).toBe(true);
  }, 120_000);
});
