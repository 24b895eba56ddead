import { describeWithServers, faultScenarios, proxyFor } from '@bulwark/test-support';
import { sagaLogFaults } from './fixtures/saga-log-fault-adapter.js';

// Issue #15: the PostgreSQL saga log under every fault of the shared driver.
await describeWithServers('postgresSagaLog through the fault proxy', ['postgres'], ({ postgres: url }) => {
  faultScenarios({
    ...sagaLogFaults,
    proxy: () => proxyFor(url),
    subject: (proxy) => sagaLogFaults.subject(proxy.url(url)),
  });
});
