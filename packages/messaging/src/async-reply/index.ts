export type {
  AcceptedOperation,
  AcceptOptions,
  AsyncReply,
  AsyncReplyHandler,
  AsyncReplyHandlerContext,
  AsyncReplySnapshot,
  AsyncReplyState,
  AsyncReplyWorkerOptions,
} from './async-reply.js';
export { asyncReply } from './async-reply.js';
export {
  AsyncReplyClosedError,
  AsyncReplyResultError,
  AsyncReplyStoreClosedError,
  UnknownOperationKindError,
} from './async-reply-errors.js';
export type { AsyncReplyEvents } from './async-reply-events.js';
export type { AsyncReplyOptions } from './async-reply-options.js';
export { asyncReplyDefaults } from './async-reply-options.js';
export type {
  AsyncReplyErrorInfo,
  AsyncReplyRecord,
  AsyncReplyStatus,
  AsyncReplyStore,
  AsyncReplyStoreCallOptions,
  FinishAsyncReplyRun,
  NewAsyncReplyRecord,
  StartAsyncReplyRun,
} from './async-reply-store.js';
export { memoryAsyncReplyStore } from './memory-async-reply-store.js';
