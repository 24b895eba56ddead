import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { rateLimitStoreFaults } from './fixtures/rate-limit-fault-adapter.js';

// Issue #15: the PostgreSQL rate-limit store under every fault of the shared driver.
await describeWithServers('postgresRateLimitStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...rateLimitStoreFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => rateLimitStoreFaults.subject(proxy.url(url)),
  });
});
