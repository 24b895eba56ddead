export type { DeadLetterHeader } from './dead-letter-headers.js';
export { deadLetterHeaders } from './dead-letter-headers.js';
export type { DeadLetterQueue, DeadLetterQueueOptions, DeadLetterReplayOptions } from './dead-letter-queue.js';
export { deadLetterQueue, restoreDeadLetter } from './dead-letter-queue.js';
export type {
  DeadLetter,
  DeadLetterListOptions,
  DeadLetterSelection,
  DeadLetterStore,
} from './dead-letter-store.js';
export { originalTopicOf } from './dead-letter-store.js';
export { memoryDeadLetterStore } from './memory-dead-letter-store.js';
