import { type Clock, delay } from '@bulwark/resilience';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { Envelope } from '../envelope/envelope.js';
import { MessagingError } from '../errors/messaging-error.js';
import { deduplicationId } from './nats-subjects.js';

/** One message ready to go: its subject, serialized body and extra headers. */
export interface OutgoingNatsMessage {
  readonly subject: string;
  readonly message: Envelope;
  readonly body: Uint8Array;
  readonly headers?: MsgHdrs;
}

/** What {@link publishToStream} needs. */
export interface PublishToStreamOptions {
  readonly js: JetStreamClient;
  readonly stream: string;
  /** The topic the deduplication ids are derived from. */
  readonly topic: string;
  readonly outgoing: readonly OutgoingNatsMessage[];
  readonly contentType: string;
  readonly attempts: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly backoffMs: (failures: number) => number;
  readonly signal?: AbortSignal;
  /**
   * Calls the listener at each reconnect (returns the unsubscribe): a publish written to the connection that was
   * lost never gets its acknowledgement, so it is sent again then instead of after `timeoutMs`.
   */
  readonly onReconnect: (listener: () => void) => () => void;
}

/** The connection was replaced while a publish waited for its acknowledgement. */
class ReconnectedError extends Error {}

/**
 * Publishes messages to the stream, pipelined on the one connection (so the stream stores them
 * in call order), and resolves once the stream acknowledged each. A message whose acknowledgement
 * did not come is sent again, up to `attempts` times: its `Nats-Msg-Id` makes the stream store it
 * once even if the first copy did arrive.
 *
 * @internal
 */
export async function publishToStream(options: PublishToStreamOptions): Promise<void> {
  let remaining = options.outgoing;
  let lastError: unknown;
  for (let attempt = 1; attempt <= options.attempts && remaining.length > 0; attempt++) {
    if (attempt > 1 && !(lastError instanceof ReconnectedError))
      await delay(options.clock, options.backoffMs(attempt - 2), options.signal);
    options.signal?.throwIfAborted();
    let stopListening = () => {};
    const interrupted = new Promise<ReconnectedError>((resolve) => {
      stopListening = options.onReconnect(() => resolve(new ReconnectedError('The NATS connection was replaced')));
    });
    const outcomes = await Promise.all(
      remaining.map((entry) => {
        const sent = entry.headers ?? headers();
        sent.set('Content-Type', options.contentType);
        const publishing = options.js
          .publish(entry.subject, entry.body, {
            msgID: deduplicationId(options.topic, entry.message.id),
            headers: sent,
            timeout: options.timeoutMs,
            // A subject outside the stream (another stream captures it) fails instead of landing elsewhere.
            expect: { streamName: options.stream },
          })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        return Promise.race([publishing, interrupted]);
      }),
    ).finally(stopListening);
    const failed: OutgoingNatsMessage[] = [];
    outcomes.forEach((error, index) => {
      if (error === undefined) return;
      lastError = error;
      failed.push(remaining[index] as OutgoingNatsMessage);
    });
    remaining = failed;
  }
  if (remaining.length > 0) {
    throw new MessagingError(
      'PUBLISH_FAILED',
      `${remaining.length} message(s) were not acknowledged by the stream after ${options.attempts} attempt(s)`,
      { cause: lastError },
    );
  }
}
