import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { inboxFaults } from './fixtures/fault-adapters.js';

// Issue #15: postgresInbox under every fault of the shared driver (see the fixture for its load and books).
await describeWithServers('postgresInbox through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...inboxFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => inboxFaults.subject(proxy.url(url)),
  });
});
