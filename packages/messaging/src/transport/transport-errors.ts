import { MessagingError } from '../errors/messaging-error.js';

/** Thrown by `publish` and `subscribe` once the transport is closed. */
export class TransportClosedError extends MessagingError {
  override name = 'TransportClosedError';
  constructor(
    /** The transport's name, e.g. `postgres`. */
    readonly transport: string,
  ) {
    super('TRANSPORT_CLOSED', `The ${transport} transport is closed`);
  }
}
