// my-transport.conformance.test.ts (vitest): the universal Transport suite against your adapter.
import { memoryTransport } from '@bulwark/messaging';
import { transportConformance } from '@bulwark/messaging/testing';

const myTransport = memoryTransport; // replace with your adapter's factory

transportConformance('myTransport', {
  createTransport: ({ visibilityTimeoutMs }) => myTransport({ visibilityTimeoutMs }),
  // Required for persistent transports: drop the adapter's connections (or restart a private server).
  // restartServer: async (transport) => dropAllConnectionsOf(transport),
  timeoutMs: 5_000,
});
