import { MessagingError } from '../errors/messaging-error.js';

/** Thrown by `accept` (in-process mode) for a kind no handler was registered for; stored as the failure in worker mode. */
export class UnknownOperationKindError extends MessagingError {
  override name = 'UnknownOperationKindError';
  constructor(readonly kind: string) {
    super('ASYNC_REPLY_UNKNOWN_KIND', `No async reply handler is registered for kind "${kind}"`);
  }
}

/** Thrown by calls made after `close()`. */
export class AsyncReplyClosedError extends MessagingError {
  override name = 'AsyncReplyClosedError';
  constructor() {
    super('ASYNC_REPLY_CLOSED', 'This asyncReply is closed');
  }
}

/** Stored as the failure when a handler's result cannot be serialized as JSON. */
export class AsyncReplyResultError extends MessagingError {
  override name = 'AsyncReplyResultError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ASYNC_REPLY_RESULT_NOT_SERIALIZABLE', message, options);
  }
}

/** An async reply store was used after `close()`. */
export class AsyncReplyStoreClosedError extends MessagingError {
  override name = 'AsyncReplyStoreClosedError';
  constructor(
    /** The store, e.g. `postgresAsyncReplyStore`. */
    readonly store: string,
  ) {
    super('ASYNC_REPLY_STORE_CLOSED', `${store} is closed`);
  }
}
