export type { Consumer, ConsumerSnapshot } from './consumer.js';
export { consume } from './consumer.js';
export { MaxDeliveriesExceededError, NonRetryableError } from './consumer-errors.js';
export type { ConsumerEvents } from './consumer-events.js';
export type {
  ConsumeOptions,
  ConsumerDedupe,
  ConsumerRetry,
  MessageContext,
  MessageHandler,
} from './consumer-options.js';
export { consumerDefaults, foreverMs } from './consumer-options.js';
