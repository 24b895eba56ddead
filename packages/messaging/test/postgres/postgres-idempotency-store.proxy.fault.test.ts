import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { idempotencyStoreFaults } from './fixtures/fault-adapters.js';

// Issue #15: postgresIdempotencyStore under every fault of the shared driver (see the fixture for its load and books).
await describeWithServers('postgresIdempotencyStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...idempotencyStoreFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => idempotencyStoreFaults.subject(proxy.url(url)),
  });
});
