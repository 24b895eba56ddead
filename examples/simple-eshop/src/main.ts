// `pnpm dev`: runs the shop (all roles in one process by default, see README).
import { ConfigError, loadConfig } from './config.js';
import { apiGateway } from './gateway/gateway.js';
import { startShop } from './shop.js';

/**
 * Runs `close` on the first SIGINT or SIGTERM and ignores the ones that follow while it runs:
 * pnpm passes a terminal's Ctrl-C on to the script it runs, so the shop can get one SIGINT twice,
 * and dying on the second would leave its embedded PostgreSQL running.
 */
function onStopSignal(close: (signal: NodeJS.Signals) => Promise<void>): void {
  let closing = false;
  const stop = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    void close(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

try {
  const config = loadConfig();
  if (config.role === 'gateway') {
    const gateway = apiGateway({
      upstreams: config.upstreams ?? [],
      ...(config.gatewayRateLimit ? { rateLimit: config.gatewayRateLimit } : {}),
    });
    const url = await gateway.app.listen({ port: config.port, host: config.host });
    console.log(
      `\n  simple-eshop (gateway) is running on ${url}, in front of ${(config.upstreams ?? []).join(', ')}\n`,
    );
    onStopSignal(async (signal) => {
      console.log(`\n${signal}: shutting down`);
      await gateway.close();
      process.exit(0);
    });
  } else {
    const shop = await startShop(config);
    console.log(`
  simple-eshop (${config.role}) is running
    shop          ${shop.url}/
    ops view      ${shop.url}/ops
    API docs      ${shop.url}/docs/openapi.json
    metrics       ${shop.url}/metrics
    admin login   ${shop.admin.email} / ${shop.admin.password}
    data          ${config.dataDir}${config.databaseUrl ? '' : ' (embedded PostgreSQL)'}
`);
    onStopSignal(async (signal) => {
      console.log(`\n${signal}: shutting down`);
      await shop.close();
      process.exit(0);
    });
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`simple-eshop: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
