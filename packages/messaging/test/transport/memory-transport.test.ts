import { memoryTransport } from '@bulwark/messaging';
import { transportConformance } from '@bulwark/messaging/testing';

transportConformance('memoryTransport', {
  createTransport: ({ visibilityTimeoutMs }) => memoryTransport({ visibilityTimeoutMs }),
  timeoutMs: 5_000,
});
