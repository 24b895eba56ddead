// The shop's messaging parts, chosen by what the environment offers: RabbitMQ (AMQP_URL), Redis
// Streams (REDIS_URL) or the PostgreSQL transport; S3 (S3_ENDPOINT…) or the filesystem for the
// claim check; Redis or PostgreSQL for idempotency keys. Every part keeps its state outside the
// process, so several processes of each role can run at once and a restart loses nothing.
import { join } from 'node:path';
import {
  type BlobStore,
  type ClaimCheck,
  claimCheck,
  fsBlobStore,
  type IdempotencyStore,
  type Transport,
} from '@bulwark/messaging';
import {
  type PostgresEventLog,
  type PostgresOutbox,
  postgresEventLog,
  postgresIdempotencyStore,
  postgresOutbox,
  postgresTransport,
} from '@bulwark/messaging/postgres';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ShopConfig } from '../config.js';
import type { ReadinessCheck } from '../health/health-routes.js';
import { transportReadiness } from '../health/readiness-checks.js';
import { shopEventTable } from '../read-models/shop-events.js';

export interface ShopMessaging {
  readonly transport: Transport;
  readonly outbox: PostgresOutbox;
  /** Keeps every message the outbox publishes (its `keep`): the source of the read models. */
  readonly eventLog: PostgresEventLog;
  readonly blobs: BlobStore;
  readonly claimCheck: ClaimCheck;
  readonly idempotencyStore: IdempotencyStore;
  /** Messages waiting per `topic/group`, where the transport can tell (PostgreSQL). */
  queueDepth(): Promise<Record<string, number>>;
  /**
   * Readiness of the transport: the connection health it reports (when it does), and for
   * RabbitMQ a call to the broker, which the database and Redis pings do not cover.
   */
  readonly transportReadiness: ReadinessCheck;
  /** What the transport and stores run on, for the start banner and /ops/status. */
  readonly backends: { transport: string; blobs: string; idempotency: string };
  close(): Promise<void>;
}

/** Where every consumer of the shop sends what keeps failing; the ops view lists and replays it. */
export const deadLetterTopic = 'shop.dead-letters';

/**
 * Payloads above this travel through the claim check. Set low so that any order of more than a
 * few lines shows the pattern; a real deployment sizes it just under its broker's message limit.
 */
export const claimCheckThresholdBytes = 1024;

export async function openMessaging(
  config: ShopConfig,
  pool: pg.Pool,
  redis: Redis | undefined,
): Promise<ShopMessaging> {
  const closers: Array<() => Promise<unknown>> = [];

  let transport: Transport;
  let probeTransport = async (_signal: AbortSignal): Promise<unknown> => undefined;
  let queueDepth = async (): Promise<Record<string, number>> => ({});
  if (config.amqpUrl) {
    const amqp = await import('amqplib');
    const { amqpTransport } = await import('@bulwark/messaging/amqp');
    const url = config.amqpUrl;
    // A connection factory lets the transport reconnect after the broker restarts.
    const amqpShop = amqpTransport(() => amqp.connect(url, { clientProperties: { connection_name: 'simple-eshop' } }), {
      queuePrefix: `${config.namespace}:`,
      exchange: config.namespace,
      ...(config.amqpQueueExpiresMs !== undefined && { queueArguments: { 'x-expires': config.amqpQueueExpiresMs } }),
    });
    transport = amqpShop;
    // Checking the depth of its queues goes to the broker on the transport's own connection.
    probeTransport = (signal) => amqpShop.snapshot({ signal });
  } else if (redis) {
    const { redisStreamsTransport } = await import('@bulwark/messaging/redis');
    transport = redisStreamsTransport(redis, { keyPrefix: `${config.namespace}:stream:` });
  } else {
    const postgres = postgresTransport(pool, { table: 'eshop_messages' });
    await postgres.migrate();
    transport = postgres;
    queueDepth = async () =>
      Object.fromEntries(
        (await postgres.snapshot()).map((group) => [`${group.topic}/${group.group}`, group.ready + group.invisible]),
      );
  }
  closers.push(() => transport.close());

  const eventLog = postgresEventLog(pool, { table: shopEventTable });
  await eventLog.migrate();
  closers.push(() => eventLog.close());
  const outbox = postgresOutbox(pool, { table: 'eshop_outbox', keep: eventLog });
  await outbox.migrate();

  let blobs: BlobStore;
  if (config.s3) {
    const { Client } = await import('minio');
    const { s3BlobStore } = await import('@bulwark/messaging/s3');
    const { bucket, ...connection } = config.s3;
    const client = new Client({ ...connection, pathStyle: true });
    if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
    blobs = s3BlobStore(client, { bucket, prefix: `${config.namespace}/claims/` });
  } else {
    blobs = fsBlobStore({ dir: join(config.dataDir, 'blobs') });
  }
  closers.push(() => blobs.close());

  let idempotencyStore: IdempotencyStore;
  if (redis) {
    const { redisIdempotencyStore } = await import('@bulwark/messaging/redis');
    idempotencyStore = redisIdempotencyStore(redis, { keyPrefix: `${config.namespace}:idempotency:` });
  } else {
    const store = postgresIdempotencyStore(pool, { table: 'eshop_idempotency' });
    await store.migrate();
    idempotencyStore = store;
  }
  closers.push(() => idempotencyStore.close());

  return {
    transport,
    outbox,
    eventLog,
    blobs,
    claimCheck: claimCheck({ store: blobs, thresholdBytes: claimCheckThresholdBytes, ttlMs: 30 * 24 * 3_600_000 }),
    idempotencyStore,
    queueDepth,
    transportReadiness: transportReadiness(transport.name, transport, probeTransport),
    backends: {
      transport: transport.name,
      blobs: config.s3 ? `s3 (${config.s3.endPoint}/${config.s3.bucket})` : 'filesystem',
      idempotency: redis ? 'redis' : 'postgres',
    },
    async close() {
      for (const closer of closers.reverse()) await closer().catch(() => {});
    },
  };
}
