// `pnpm --filter simple-eshop load`: starts a shop (embedded PostgreSQL, or DATABASE_URL), drives
// mixed traffic with faults on, then checks the invariants. Exits 1 if one fails.
//   LOAD_DURATION_MS (20000), LOAD_SHOPPERS (16)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { startShop } from '../shop.js';
import { runLoad } from './load-run.js';

const env: NodeJS.ProcessEnv = {
  ...process.env,
  PORT: '0',
  LOG_LEVEL: 'error',
  SHOP_RETRY_DELAYS_MS: '200,500',
  SHOP_BREAKER_HALF_OPEN_MS: '1000',
};
env.DATA_DIR ??= mkdtempSync(join(tmpdir(), 'shop-load-'));
const shop = await startShop(loadConfig(env, []), env);
try {
  const report = await runLoad({
    url: shop.url,
    pool: shop.pool,
    admin: shop.admin,
    durationMs: Number(env.LOAD_DURATION_MS ?? 20_000),
    shoppers: Number(env.LOAD_SHOPPERS ?? 16),
    faults: [{ scenario: 'black-friday' }],
  });
  console.log(JSON.stringify(report, null, 2));
  const failed = Object.entries(report.invariants).filter(([, result]) => !result.ok);
  console.log(
    `\norders: ${report.orders.placed} placed (${report.orders.perSecond.toFixed(1)}/s), ${report.orders.confirmed} confirmed, ${report.orders.cancelled} cancelled; ` +
      `order p99 ${report.latencyMs.orderP99.toFixed(1)} ms, browse p99 ${report.latencyMs.browseP99.toFixed(1)} ms; 5xx: ${report.errors5xx}`,
  );
  console.log(
    failed.length === 0
      ? 'every invariant holds'
      : `INVARIANTS FAILED: ${failed.map(([name, result]) => `${name} (${result.detail})`).join('; ')}`,
  );
  process.exitCode = failed.length === 0 && report.errors5xx === 0 ? 0 : 1;
} finally {
  await shop.close();
}
