import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { deadLetterStoreFaults } from './fixtures/fault-adapters.js';

// Issue #15: postgresDeadLetterStore under every fault of the shared driver (see the fixture for its load and books).
await describeWithServers('postgresDeadLetterStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...deadLetterStoreFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => deadLetterStoreFaults.subject(proxy.url(url)),
  });
});
