import { memoryAsyncReplyStore } from '@bulwark/messaging';
import { asyncReplyStoreConformance } from '@bulwark/messaging/testing';

asyncReplyStoreConformance('memoryAsyncReplyStore', { createStore: () => memoryAsyncReplyStore() });
