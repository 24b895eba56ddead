import type { ConnectionHealth } from './connection-health.js';
import type { Transport } from './transport.js';

/**
 * A transport to a server (PostgreSQL, Redis Streams, RabbitMQ, NATS JetStream): groups can be
 * declared before their subscribers, their depths read for dashboards, and the connection's
 * health known without a round trip. Code that works with any of them (a readiness check, a
 * deploy step that declares groups) takes this type.
 */
export interface BrokerTransport<GroupSnapshot> extends Transport {
  /**
   * Creates a group (a queue, a consumer group, a durable consumer) before anyone subscribes, so
   * it receives what is published meanwhile. Run it at deploy time when producers may start first.
   */
  declareGroup(topic: string, group: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Per-group depths, for dashboards. */
  snapshot(options?: { signal?: AbortSignal }): Promise<GroupSnapshot[]>;
  /**
   * Whether the server is reachable, without asking it: `degraded` from a failed call or a lost
   * connection until a call succeeds or the connection is back.
   */
  health(): ConnectionHealth;
}
