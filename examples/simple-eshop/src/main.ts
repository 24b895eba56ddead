// `pnpm dev`: runs the shop (all roles in one process by default, see README).
import { ConfigError, loadConfig } from './config.js';
import { apiGateway } from './gateway/gateway.js';
import { startShop } from './shop.js';
import { onStopSignal } from './stop-signal.js';

/** Within the 30 s a supervisor (Kubernetes, systemd) gives a process before it sends SIGKILL. */
const shutdownDeadlineMs = 25_000;

/** On SIGINT or SIGTERM: says so, runs `close`, exits 0 (1 past the deadline). */
const exitOnStopSignal = (close: () => Promise<void>) =>
  onStopSignal(
    async (signal) => {
      console.log(`\n${signal}: shutting down`);
      await close();
      process.exit(0);
    },
    { deadlineMs: shutdownDeadlineMs },
  );

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
    exitOnStopSignal(() => gateway.close());
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
    exitOnStopSignal(() => shop.close());
  }
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`simple-eshop: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
