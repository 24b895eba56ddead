import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { transportFaults } from './fixtures/fault-adapters.js';

// Issue #15: postgresTransport under every fault of the shared driver (see the fixture for its load and books).
await describeWithServers('postgresTransport through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...transportFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => transportFaults.subject(proxy.url(url)),
  });
});
