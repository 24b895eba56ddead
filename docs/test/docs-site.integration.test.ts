// The built docs site in a real browser (Debian's Chromium driven by playwright-core): the home
// page, a guide and an API page open, and every internal link from them — and from the pages they
// link to — leads to a page that exists.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isCI } from '@bulwark/test-support';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distDir, serveDocs } from '../serve.mjs';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);
if (!hasChromium) {
  if (isCI())
    throw new Error(`[docs site] Chromium is required under CI at ${chromiumPath} (apt-get install chromium)`);
  console.warn(`\n!!!!! SKIPPED SUITE "docs site in a browser": no Chromium at ${chromiumPath} !!!!!\n`);
}

/** Internal links of an HTML page, absolute, without their fragment. */
function internalLinks(hrefs: readonly string[], pageUrl: string, origin: string): string[] {
  const links = new Set<string>();
  for (const href of hrefs) {
    if (!href || href.startsWith('mailto:') || href.startsWith('javascript:')) continue;
    const url = new URL(href, pageUrl);
    if (url.origin !== origin) continue;
    url.hash = '';
    links.add(url.toString());
  }
  return [...links];
}

const hrefsIn = (html: string) =>
  [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((match) => decodeEntities(match[1] ?? ''));
const decodeEntities = (text: string) =>
  text.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'");

describe.skipIf(!hasChromium)('docs site in a browser', () => {
  let site: { url: string; close: () => Promise<void> };
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(join(distDir, 'index.html'))) {
      execSync('pnpm run build', { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });
    }
    site = await serveDocs({ port: 0 });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('opens the home page, a guide and an API page, and no internal link is broken', async () => {
    const origin = new URL(site.url).origin;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    // Level 0, rendered: the navigation tree is built by the site's script, so read the live DOM.
    const starts = [
      { path: '/', text: 'Bulwark keeps Node.js services standing' },
      { path: '/documents/Circuit_breaker.html', text: 'BrokenCircuitError' },
      { path: '/functions/_bulwark_resilience.circuitBreaker.html', text: 'circuitBreaker' },
    ];
    const level1 = new Set<string>();
    for (const start of starts) {
      const response = await page.goto(`${site.url}${start.path}`, { waitUntil: 'networkidle' });
      expect(response?.status(), start.path).toBe(200);
      await expect.poll(() => page.locator('body').textContent()).toContain(start.text);
      const hrefs = await page
        .locator('a[href]')
        .evaluateAll((anchors) => anchors.map((a) => a.getAttribute('href') ?? ''));
      for (const link of internalLinks(hrefs, page.url(), origin)) level1.add(link);
    }
    expect(level1.size).toBeGreaterThan(30);
    // The guides and every module of every package are reachable from those pages.
    const paths = [...level1].map((link) => new URL(link).pathname);
    expect(paths).toContain('/documents/Getting_started.html');
    expect(paths).toContain('/modules/_bulwark_messaging_postgres.html');
    expect(paths).toContain('/modules/_bulwark_saga_testing.html');

    // Level 1 and 2 over HTTP: each linked page exists, and so does every page it links to.
    const broken: string[] = [];
    const checked = new Map<string, number>();
    const status = async (link: string) => {
      if (!checked.has(link)) checked.set(link, (await fetch(link)).status);
      return checked.get(link) as number;
    };
    const level2 = new Set<string>();
    for (const link of level1) {
      const response = await fetch(link);
      checked.set(link, response.status);
      if (response.status !== 200) {
        broken.push(`${link} (${response.status})`);
        continue;
      }
      if (!(response.headers.get('content-type') ?? '').includes('text/html')) continue;
      for (const next of internalLinks(hrefsIn(await response.text()), link, origin)) level2.add(next);
    }
    for (const link of level2) if ((await status(link)) !== 200) broken.push(`${link} (${checked.get(link)})`);

    expect(broken).toEqual([]);
    expect(errors).toEqual([]);
    expect(checked.size).toBeGreaterThan(level1.size);
  }, 120_000);
});
