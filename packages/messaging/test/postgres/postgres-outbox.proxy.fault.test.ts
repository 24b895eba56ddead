import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { outboxRelayFaults } from './fixtures/fault-adapters.js';

// Issue #15: postgresOutbox relay under every fault of the shared driver (see the fixture for its load and books).
await describeWithServers('postgresOutbox relay through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...outboxRelayFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => outboxRelayFaults.subject(proxy.url(url)),
  });
});
