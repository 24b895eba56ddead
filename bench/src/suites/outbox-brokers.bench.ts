// The outbox relay publishing to real brokers, against the same broker's publish-with-confirm floor
// written by hand (issue #21: the relay's goal is >= 0.9x of that floor, and near-linear gain from 1 to 3
// relays where the broker allows).
//
// outbox.to-brokers — 20,000 committed outbox rows (~250-byte envelopes, 100 keys, one topic) drained
//   into the Redis Streams and AMQP (quorum queue) transports, a group declared so every message is
//   routable, by 1 relay and by a fleet of 3 (`partitions: 12`), each relay with its own pg pool and its
//   own broker connection, all publishing `publishConcurrency` calls at once. The relays are started on
//   the empty table and have taken their partitions before the rows are committed (in one INSERT); the
//   time runs from that commit until the transports have accepted the last message. ns/op is per
//   message. The floors publish the same number of like envelopes (JSON) straight to the broker, 500 per
//   batch, waiting for the broker's answer before the next batch: ioredis pipelined XADD to one stream;
//   amqplib confirm channel + waitForConfirms to one quorum queue. The floors read nothing from
//   PostgreSQL: the gap between a relay and its floor is what reading and deleting rows costs on top of
//   publishing.
import { randomUUID } from 'node:crypto';
import { createEnvelope, type Envelope, type Transport } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { BenchmarkDefinition, SubjectResult } from '../harness.js';
import { fill } from './outbox.bench.js';

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const rows = 20_000;
const floorBatch = 500;
const rounds = 3;

const envelopes = (): Envelope[] =>
  Array.from({ length: rows }, (_, index) =>
    createEnvelope({
      topic: 'orders',
      type: 'order.placed',
      key: `order-${index % 100}`,
      payload: { orderId: index, total: 4200, currency: 'EUR', lines: [{ sku: 'SKU-1', quantity: 2 }] },
      headers: { correlationId: randomUUID() },
    }),
  );

/** Publishes in flight per relay; the relay's default is 1 (one batch at a time). */
const publishConcurrency = 8;
/** Partitions of the fleet: 4 per relay with 3 relays. */
const partitions = 12;

/** Transports to one destination, each on its own broker connection, one per relay. */
interface BrokerTransports {
  readonly transports: Transport[];
  dispose(): Promise<void>;
}

async function redisTransports(count: number): Promise<BrokerTransports> {
  const keyPrefix = `bench:${randomUUID().slice(0, 8)}:`;
  const clients = Array.from({ length: count }, () => new Redis(redisUrl));
  const transports = clients.map((redis) => redisStreamsTransport(redis, { keyPrefix }));
  return {
    transports,
    async dispose() {
      for (const transport of transports) await transport.close({ deadlineMs: 0 });
      const keys = await (clients[0] as Redis).keys(`${keyPrefix}*`);
      if (keys.length > 0) await (clients[0] as Redis).del(...keys);
      for (const redis of clients) redis.disconnect();
    },
  };
}

async function amqpTransports(count: number): Promise<BrokerTransports> {
  const exchange = `bench-${randomUUID().slice(0, 8)}`;
  const transports = Array.from({ length: count }, () =>
    amqpTransport(() => amqp.connect(amqpUrl, { noDelay: true }), {
      exchange,
      queuePrefix: `${exchange}:`,
      queueType: 'quorum',
      queueArguments: { 'x-expires': 600_000 }, // the bench queues go away on their own (unused for 10 min)
      // Declaring a quorum queue on the shared, loaded broker has taken more than the default 30 s.
      operationTimeoutMs: 120_000,
    }),
  );
  return {
    transports,
    async dispose() {
      for (const transport of transports) await transport.close({ deadlineMs: 0 });
      const admin = await amqp.connect(amqpUrl);
      await (await admin.createChannel()).deleteExchange(exchange);
      await admin.close();
    },
  };
}

/**
 * Drains `rows` outbox rows through one relay per transport (each with its own pool), a fleet
 * sharing `partitions` when there are several; ns per message.
 */
async function drain(pool: pg.Pool, table: string, transports: readonly Transport[]): Promise<number> {
  const fleet = transports.length > 1;
  let published = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const pools = transports.map(() => new pg.Pool({ connectionString: databaseUrl, max: 2 }));
  const relays = transports.map((transport, index) =>
    postgresOutbox(pools[index] as pg.Pool, { table }).relay({
      transport: {
        async publish(topic, messages, options) {
          await transport.publish(topic, messages, options);
          published += messages.length;
          if (published >= rows) done();
        },
      },
      publishConcurrency,
      ...(fleet ? { partitions, rebalanceIntervalMs: 50 } : {}),
    }),
  );
  try {
    // Every relay has its share before the rows are committed.
    const share = partitions / relays.length;
    while (
      !relays.every((relay) =>
        fleet ? relay.snapshot().partitions?.length === share : relay.snapshot().role === 'leader',
      )
    )
      await new Promise((resolve) => setTimeout(resolve, 10));
    const client = await pool.connect();
    let started: bigint;
    try {
      await client.query('BEGIN');
      await fill(client, table, rows, { vacuum: false });
      started = process.hrtime.bigint();
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await finished;
    return Number(process.hrtime.bigint() - started) / rows;
  } finally {
    await Promise.all(relays.map((relay) => relay.close()));
    await Promise.all(pools.map((relayPool) => relayPool.end()));
    await pool.query(`VACUUM "${table}"`);
  }
}

async function redisFloor(redis: Redis, stream: string): Promise<number> {
  const messages = envelopes();
  const started = process.hrtime.bigint();
  for (let offset = 0; offset < messages.length; offset += floorBatch) {
    const pipeline = redis.pipeline();
    for (const message of messages.slice(offset, offset + floorBatch))
      pipeline.xadd(stream, '*', 'message', JSON.stringify(message));
    await pipeline.exec();
  }
  return Number(process.hrtime.bigint() - started) / rows;
}

async function amqpFloor(channel: amqp.ConfirmChannel, queue: string): Promise<number> {
  const messages = envelopes();
  const started = process.hrtime.bigint();
  for (let offset = 0; offset < messages.length; offset += floorBatch) {
    for (const message of messages.slice(offset, offset + floorBatch))
      channel.sendToQueue(queue, Buffer.from(JSON.stringify(message)), {
        persistent: true,
        messageId: message.id,
        contentType: 'application/json',
      });
    await channel.waitForConfirms();
  }
  return Number(process.hrtime.bigint() - started) / rows;
}

async function measure(): Promise<SubjectResult[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const redis = new Redis(redisUrl);
  const connection = await amqp.connect(amqpUrl, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  const floorQueue = `bench-outbox-floor-${suffix}`;
  await channel.assertQueue(floorQueue, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-expires': 600_000 },
  });
  const floorStream = `bench:outbox-floor:${suffix}`;
  const brokers: Record<string, BrokerTransports> = {
    'redis-streams': await redisTransports(3),
    amqp: await amqpTransports(3),
  };
  const subjects: Record<string, () => Promise<number>> = {};
  const tables: string[] = [];
  for (const [broker, { transports }] of Object.entries(brokers)) {
    await (transports[0] as Transport).declareGroup?.('orders', 'bench');
    for (const count of [1, 3]) {
      const table = `bench_outbox_brokers_${suffix}_${tables.length}`;
      tables.push(table);
      await postgresOutbox(pool, { table }).migrate();
      subjects[`relay ×${count} → ${broker}`] = () => drain(pool, table, transports.slice(0, count));
    }
  }
  subjects['floor: XADD pipelined by hand → redis'] = () => redisFloor(redis, floorStream);
  subjects['floor: confirm channel by hand → rabbitmq'] = () => amqpFloor(channel, floorQueue);
  const names = Object.keys(subjects);
  const samples = new Map<string, number[]>(names.map((name) => [name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (let offset = 0; offset < names.length; offset++) {
        const name = names[(round + offset) % names.length] as string;
        samples.get(name)?.push(await (subjects[name] as () => Promise<number>)());
      }
      await redis.del(floorStream);
      await channel.purgeQueue(floorQueue);
    }
  } finally {
    for (const broker of Object.values(brokers)) await broker.dispose().catch(() => {});
    for (const table of tables) {
      await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_relay"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
    }
    await channel.deleteQueue(floorQueue).catch(() => {});
    await connection.close();
    await redis.del(floorStream);
    redis.disconnect();
    await pool.end();
  }
  return names.map((name) => {
    const sorted = [...(samples.get(name) ?? [])].sort((a, b) => a - b);
    const nsPerOp = sorted[Math.floor(sorted.length / 2)] as number;
    return { subject: name, nsPerOp, opsPerSecond: 1e9 / nsPerOp, roundsNsPerOp: samples.get(name) ?? [] };
  });
}

const definitions: BenchmarkDefinition[] = [
  {
    name: 'outbox.to-brokers',
    description: `${rows.toLocaleString('en')} committed rows relayed to Redis Streams and RabbitMQ by 1 relay and by a fleet of 3, against each broker's publish-with-confirm floor by hand (messages/s)`,
    mode: { kind: 'op' },
    operations: rows,
    subjects: {},
    measure,
  },
];

export default definitions;
