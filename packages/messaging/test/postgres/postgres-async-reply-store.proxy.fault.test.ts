import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { asyncReplyStoreFaults } from './fixtures/fault-adapters.js';

// Issue #15: postgresAsyncReplyStore under every fault of the shared driver (see the fixture for its load and books).
await describeWithServers('postgresAsyncReplyStore through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...asyncReplyStoreFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => asyncReplyStoreFaults.subject(proxy.url(url)),
  });
});
