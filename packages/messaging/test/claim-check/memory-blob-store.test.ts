import { memoryBlobStore } from '@bulwark/messaging';
import { blobStoreConformance } from '@bulwark/messaging/testing';

blobStoreConformance('memoryBlobStore', { createStore: ({ clock }) => memoryBlobStore({ clock }) });
