import { type Clock, delay, type TimerHandle } from '@bulwark/resilience';
import { withClient } from '@bulwark/resilience/postgres';
import type { Notification, Pool, PoolClient, QueryConfig } from 'pg';
import { MessagingError } from '../errors/messaging-error.js';
import { asError } from '../transport/in-flight.js';
import { postgresTransportDefaults, retryDelayAfter } from './postgres-transport-options.js';

/** What the LISTEN connection of a transport needs from it. */
export interface TransportListenerContext {
  readonly pool: Pool;
  readonly channel: string;
  readonly clock: Clock;
  readonly queryTimeoutMs: number;
  /** Aborted when the transport closes. */
  readonly lifetime: AbortSignal;
  /** A failure of the connection: reported, and the transport degraded. */
  readonly reportFailure: (error: unknown) => void;
  /** Wakes the subscriptions of `topic`, or all of them. */
  readonly wakeAll: (topic?: string) => void;
}

/** The LISTEN connection of one transport, shared by its subscriptions. */
export interface TransportListener {
  /** Takes a connection and LISTENs, re-establishing it after a drop, until the transport closes. */
  start(): void;
  /** Resolves once the LISTEN connection is given back; the transport must be closed first. */
  stop(): Promise<void>;
  /** Whether the LISTEN connection is up now. */
  readonly connected: boolean;
}

/**
 * The loop that holds one LISTEN connection per transport: taken from the pool on the first
 * subscribe, re-established with backoff after a drop, given back when the transport closes.
 */
export function transportListener(context: TransportListenerContext): TransportListener {
  const { pool, channel, clock, queryTimeoutMs, lifetime, reportFailure, wakeAll } = context;
  let listener: PoolClient | undefined;
  /** The loop that holds the LISTEN connection and re-establishes it; undefined when not running. */
  let listening: Promise<void> | undefined;
  // `query_timeout` is a per-query option of pg that @types/pg leaves out of QueryConfig.
  const bounded = (text: string): QueryConfig => ({ text, query_timeout: queryTimeoutMs }) as QueryConfig;

  /**
   * LISTENs on `client` until its connection drops (rejects with why) or the transport closes
   * (resolves). A heartbeat proves the connection alive: a LISTEN connection only ever waits, so
   * one that went silent (a half-open network) would otherwise never be noticed.
   */
  const holdListening = async (client: PoolClient, onListening: () => void): Promise<void> => {
    let drop: (reason: unknown) => void = () => {};
    const dropped = new Promise<unknown>((resolve) => {
      drop = resolve;
    });
    const onError = (error: unknown) => drop(error);
    const onEnd = () => drop(new MessagingError('CONNECTION_LOST', 'The LISTEN connection ended'));
    const onClose = () => drop(undefined);
    const onNotification = (notification: Notification) => wakeAll(notification.payload);
    client.on('error', onError);
    client.on('end', onEnd);
    client.on('notification', onNotification);
    lifetime.addEventListener('abort', onClose, { once: true });
    let heartbeat: TimerHandle | undefined;
    /** A statement of ours failed: the connection's state is unknown, so withClient destroys it. */
    const broken = (error: unknown) => client.emit('error', asError(error));
    try {
      if (lifetime.aborted) return;
      await client.query(bounded(`LISTEN "${channel}"`)).catch((error: unknown) => {
        broken(error);
        throw error;
      });
      listener = client;
      onListening();
      // Notifications may have been missed while there was no listener: look now.
      wakeAll();
      const beat = () => {
        heartbeat = clock.setTimeout(() => {
          client.query(bounded('SELECT 1')).then(beat, broken);
        }, postgresTransportDefaults.listenerHeartbeatMs);
      };
      beat();
      const reason = await dropped;
      if (reason !== undefined) throw reason;
      await client.query(bounded(`UNLISTEN "${channel}"`)).catch(broken);
    } finally {
      if (listener === client) listener = undefined;
      clock.clearTimeout(heartbeat);
      client.off('error', onError);
      client.off('end', onEnd);
      client.off('notification', onNotification);
      lifetime.removeEventListener('abort', onClose);
    }
  };

  return {
    start() {
      if (lifetime.aborted || listening) return;
      listening = (async () => {
        let failures = 0;
        while (!lifetime.aborted) {
          try {
            await withClient(
              pool,
              (client) =>
                holdListening(client, () => {
                  failures = 0;
                }),
              { connectTimeoutMs: queryTimeoutMs, clock },
            );
          } catch (error) {
            if (!lifetime.aborted) reportFailure(error);
          }
          if (lifetime.aborted) return;
          // Deliveries published meanwhile were not notified: the subscriptions look now.
          wakeAll();
          failures += 1;
          try {
            await delay(clock, retryDelayAfter(failures), lifetime);
          } catch {
            return;
          }
        }
      })().finally(() => {
        listening = undefined;
      });
    },
    async stop() {
      await listening;
    },
    get connected() {
      return listener !== undefined;
    },
  };
}
