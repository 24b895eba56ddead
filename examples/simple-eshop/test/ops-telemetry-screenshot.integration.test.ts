// The ops view's telemetry in a real browser (Debian's Chromium through playwright-core): an order
// is placed, then the ops view shows that order's trace as a waterfall and the route charts with
// data; the screenshot is kept under test-artifacts/ (gitignored).
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isCI } from '@bulwark/test-support';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webRoot } from '../src/http/web-page.js';
import { eventually, startTestShop, type TestShop } from './test-shop.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = join(import.meta.dirname, '..', '..', '..', 'test-artifacts');
const hasChromium = existsSync(chromiumPath);
if (!hasChromium) {
  if (isCI())
    throw new Error(`[ops telemetry] Chromium is required under CI at ${chromiumPath} (apt-get install chromium)`);
  console.warn(`\n!!!!! SKIPPED SUITE "ops view telemetry in a browser": no Chromium at ${chromiumPath} !!!!!\n`);
}

describe.skipIf(!hasChromium)('ops view telemetry in a browser', () => {
  let shop: TestShop;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(webRoot, 'index.html')))
      execSync('pnpm build:web', { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });
    mkdirSync(artifacts, { recursive: true });
    shop = await startTestShop({ LOG_LEVEL: 'error' });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await shop?.close();
  });

  it("shows the order's trace as a waterfall and the route charts with data", async () => {
    const login = async (email: string, password: string) =>
      ((await (await shop.request('POST', '/api/sessions', { body: { email, password } })).json()) as { token: string })
        .token;
    await shop.request('POST', '/api/users', {
      body: { username: 'wanda', email: 'wanda@example.com', password: 'wanda-password' },
    });
    const token = await login('wanda@example.com', 'wanda-password');
    await shop.request('PUT', '/api/cart', { token, body: { items: [{ productId: 'tent', quantity: 1 }] } });
    const placed = await shop.request('POST', '/api/orders', {
      token,
      headers: { 'idempotency-key': 'screenshot-1' },
      body: {},
    });
    const { id } = (await placed.json()) as { id: string };
    // The order's spans, down to the payment capture, are in the span store.
    const adminToken = await login(shop.admin.email, shop.admin.password);
    await eventually(
      async () =>
        (
          (await (await shop.request('GET', `/ops/traces/${id}`, { token: adminToken })).json()) as {
            spans: Array<{ name: string }>;
          }
        ).spans,
      (spans) => spans.some((span) => span.name === 'payment capture'),
    );

    const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
    await page.goto(`${shop.url}/login`);
    await page.getByLabel('Email').fill(shop.admin.email);
    await page.getByLabel('Password').fill(shop.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.goto(`${shop.url}/ops`);

    const waterfall = page.getByTestId('trace-waterfall');
    await waterfall.waitFor({ timeout: 20_000 });
    expect(await waterfall.getAttribute('data-order-id')).toBe(id);
    const spanNames = await page
      .getByTestId('span-row')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-span-name')));
    expect(spanNames).toEqual(
      expect.arrayContaining([
        'POST /api/orders',
        'create orders',
        'send orders',
        'process orders',
        'payment authorize',
        'payment capture',
      ]),
    );
    expect(spanNames.some((name) => name?.startsWith('saga '))).toBe(true);

    // The route samples are taken every 5 s: the charts fill within a poll or two.
    const orders = page.locator('[data-testid="route-row"][data-route="POST /api/orders"]');
    await orders.waitFor({ timeout: 30_000 });
    const points = await orders
      .locator('figure.line-chart')
      .evaluateAll((charts) => charts.map((chart) => Number(chart.getAttribute('data-points'))));
    expect(points).toHaveLength(4);
    expect(points.every((count) => count > 0)).toBe(true);
    // Axes: tick labels on both.
    expect(await orders.locator('text.tick').count()).toBeGreaterThanOrEqual(4 * 6);

    const screenshot = join(artifacts, 'ops-telemetry.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
  }, 90_000);
});
