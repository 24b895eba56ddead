import { memoryTransport } from '@bulwark/messaging';
import { transportConformance } from '@bulwark/messaging/testing';

transportConformance('memoryTransport', {
  createTransport: ({ visibilityTimeoutMs }) => memoryTransport({ visibilityTimeoutMs }),
  timeoutMs: 5_000,
});

transportConformance('memoryTransport (ordering: none)', {
  createTransport: ({ visibilityTimeoutMs }) => memoryTransport({ visibilityTimeoutMs, ordering: 'none' }),
  timeoutMs: 5_000,
});
