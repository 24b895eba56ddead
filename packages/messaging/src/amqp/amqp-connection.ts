import { abortable, delay, exponential, within } from '@bulwark/resilience';
import type { Channel, ChannelModel } from 'amqplib';
import { MessagingError } from '../errors/messaging-error.js';
import { ConnectionHealthTracker } from '../transport/connection-health.js';
import { TransportClosedError } from '../transport/transport-errors.js';
import type { AmqpConnectionSource, AmqpSettings } from './amqp-transport-options.js';
import { coalesceFrameWrites } from './amqp-write-coalescing.js';

/** The transport's connection to the broker: one live `amqplib` connection, reopened with backoff. */
export interface AmqpConnection {
  /** The live connection, reconnecting (when the source is a factory) until the transport closes. */
  live(): Promise<ChannelModel>;
  /** Runs `work` on a short-lived channel (a failed declare or check closes its channel), bounded by `operationTimeoutMs`. */
  withChannel<T>(work: (channel: Channel) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** The wait before the next reconnect (or publish attempt) after `failures` failed ones. */
  backoffMs(failures: number): number;
  readonly health: ConnectionHealthTracker;
  /** Whether the transport is closing or closed: nothing new may start. */
  readonly closed: boolean;
  /** From now on `live()` rejects with `TransportClosedError` and the reconnect loop stops waiting. */
  markClosed(): void;
  /** Closes the connections it opened (never a connection the user gave). */
  close(): Promise<void>;
}

/**
 * Waits for a channel being opened, at most `operationTimeoutMs`; a channel that opens after all
 * is closed rather than left on the connection.
 */
export async function channelWithin<T extends Channel>(
  settings: Pick<AmqpSettings, 'clock' | 'operationTimeoutMs'>,
  opening: Promise<T>,
  timedOut: () => Error,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await abortable(within(settings.clock, opening, settings.operationTimeoutMs, timedOut), signal);
  } catch (error) {
    void opening
      .then((late) => {
        late.on('error', () => {}); // held until closed: a channel error here must not go unhandled
        return late.close();
      })
      .catch(() => {});
    throw error;
  }
}

export function amqpConnection(source: AmqpConnectionSource, settings: AmqpSettings): AmqpConnection {
  const { clock, report, operationTimeoutMs } = settings;
  const reconnectBackoff = exponential({ initialMs: settings.reconnectInitialMs, maxMs: settings.reconnectMaxMs });
  // No jitter: the reconnect delays are the same for every process, so `random` is never read.
  const backoffMs = (failures: number) =>
    reconnectBackoff.delayMs({ attempt: failures + 1, previousDelayMs: 0, random: () => 0 });
  const health = new ConnectionHealthTracker(clock);

  const stopping = new AbortController();
  const ownsConnections = typeof source === 'function';
  const opened = new Set<ChannelModel>();
  let current: ChannelModel | undefined;
  let connecting: Promise<ChannelModel> | undefined;
  let closed = false;

  const watch = (connection: ChannelModel) => {
    connection.on('error', (error: unknown) => {
      health.failed(error);
      report('CONNECTION_FAILED', 'The AMQP connection failed', error);
    });
    connection.once('close', (reason: unknown) => {
      opened.delete(connection);
      if (current === connection) current = undefined;
      // A broker-side close (restart, `rabbitmqctl close_connection`) emits no 'error' in amqplib.
      if (!closed) health.failed(reason ?? new MessagingError('CONNECTION_LOST', 'The AMQP connection closed'));
      if (!closed)
        report('CONNECTION_LOST', 'The AMQP connection closed; reconnecting where a factory was given', reason);
    });
  };
  if (typeof source !== 'function') {
    current = source;
    watch(source);
  }

  const live = (): Promise<ChannelModel> => {
    if (current) return Promise.resolve(current);
    if (closed) return Promise.reject(new TransportClosedError('amqp'));
    if (typeof source !== 'function') {
      return Promise.reject(
        new MessagingError(
          'CONNECTION_CLOSED',
          'The amqplib connection given to amqpTransport is closed; give a connection factory to reconnect',
        ),
      );
    }
    connecting ??= (async () => {
      for (let failures = 0; ; failures++) {
        if (closed) throw new TransportClosedError('amqp');
        try {
          // A broker that accepts the socket but never completes the handshake (overloaded, or a
          // silent network) must not hold every later call on this one attempt.
          const attempt = source();
          const made = await within(clock, attempt, operationTimeoutMs, () => {
            void attempt.then((late) => late.close()).catch(() => {});
            return new MessagingError(
              'BROKER_TIMEOUT',
              `The broker did not complete a connection within ${operationTimeoutMs} ms (operationTimeoutMs)`,
            );
          });
          if (closed) {
            await made.close().catch(() => {});
            throw new TransportClosedError('amqp');
          }
          opened.add(made);
          coalesceFrameWrites(made);
          watch(made);
          current = made;
          health.succeeded();
          return made;
        } catch (error) {
          if (error instanceof TransportClosedError) throw error;
          health.failed(error);
          report('CONNECTION_FAILED', `Connecting to the broker failed (attempt ${failures + 1}); retrying`, error);
          await delay(clock, backoffMs(failures), stopping.signal).catch(() => {});
        }
      }
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  const withChannel = async <T>(work: (channel: Channel) => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const timedOut = () =>
      new MessagingError(
        'BROKER_TIMEOUT',
        `The broker did not answer within ${operationTimeoutMs} ms (operationTimeoutMs)`,
      );
    const channel = await channelWithin(
      settings,
      live().then((made) => made.createChannel()),
      timedOut,
      signal,
    );
    channel.on('error', () => {}); // the failure reaches the caller through `work`
    try {
      return await abortable(within(clock, work(channel), operationTimeoutMs, timedOut), signal);
    } finally {
      // Not awaited past the timeout: a silent broker never answers channel.close either.
      await within(clock, channel.close(), operationTimeoutMs, timedOut).catch(() => {});
    }
  };

  return {
    live,
    withChannel,
    backoffMs,
    health,
    get closed() {
      return closed;
    },
    markClosed() {
      closed = true;
      stopping.abort();
    },
    async close() {
      closed = true;
      stopping.abort();
      if (ownsConnections) {
        await Promise.all([...opened].map((made) => made.close().catch(() => {})));
        opened.clear();
        current = undefined;
      }
    },
  };
}
