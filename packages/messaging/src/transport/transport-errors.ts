import { MessagingError } from '../errors/messaging-error.js';
import type { TransportCapabilities } from './transport.js';

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

/**
 * Thrown by `publish` when no consumer group could ever receive the messages (the topic has no
 * group, on a transport whose {@link TransportCapabilities.unroutable} is `rejected`). Nothing of
 * the call counts as published: keep the messages and try again once a group exists, or declare
 * the groups before producers start (`declareGroup`).
 */
export class UnroutableMessageError extends MessagingError {
  override name = 'UnroutableMessageError';
  constructor(
    /** The transport's name, e.g. `amqp`. */
    readonly transport: string,
    /** The topic without a group. */
    readonly topic: string,
    /** How many messages of the call could not be routed. */
    readonly count: number,
    options?: { cause?: unknown },
  ) {
    super(
      'MESSAGE_UNROUTABLE',
      `${count} message(s) for topic "${topic}" were not published: no consumer group of the ${transport} transport receives this topic (declare or subscribe a group first)`,
      options,
    );
  }
}
