// The outbox relay publishing to real brokers, against the same broker's publish-with-confirm floor
// written by hand (issue #21: the relay's goal is >= 0.9x of that floor).
//
// outbox.to-brokers — 20,000 committed outbox rows (~250-byte envelopes, 100 keys, one topic) drained
//   by `postgresOutbox(pool).relay({ transport })` into the Redis Streams and AMQP (quorum queue)
//   transports, a group declared so every message is routable; time from starting the relay until the
//   transport has accepted the last message. ns/op is per message. The floors publish the same number
//   of like envelopes (JSON) straight to the broker, 500 per batch, waiting for the broker's answer
//   before the next batch: ioredis pipelined XADD to one stream; amqplib confirm channel +
//   waitForConfirms to one quorum queue. The floors read nothing from PostgreSQL: the gap between a
//   relay and its floor is what reading and deleting rows costs on top of publishing.
import { randomUUID } from 'node:crypto';
import { createEnvelope, type Envelope, type Transport } from '@bulwark/messaging';
import { postgresOutbox } from '@bulwark/messaging/postgres';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { BenchmarkDefinition, SubjectResult } from '../harness.js';
import { fill } from './outbox.bench.js';
import { transportTargets } from './transports.bench.js';

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

/** Drains `rows` outbox rows through a relay into `transport`; ns per message. */
async function drain(pool: pg.Pool, table: string, transport: Transport): Promise<number> {
  await fill(pool, table, rows);
  let published = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const counting: Pick<Transport, 'publish'> = {
    async publish(topic, messages, options) {
      await transport.publish(topic, messages, options);
      published += messages.length;
      if (published >= rows) done();
    },
  };
  const started = process.hrtime.bigint();
  const relay = postgresOutbox(pool, { table }).relay({ transport: counting });
  await finished;
  const elapsed = Number(process.hrtime.bigint() - started);
  await relay.close();
  return elapsed / rows;
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
    arguments: { 'x-queue-type': 'quorum', 'x-expires': 60_000 },
  });
  const floorStream = `bench:outbox-floor:${suffix}`;
  const targets = {
    'redis-streams': await transportTargets['redis-streams']?.make(),
    amqp: await transportTargets['amqp (quorum queue)']?.make(),
  };
  const subjects: Record<string, () => Promise<number>> = {};
  const tables: string[] = [];
  for (const [broker, target] of Object.entries(targets)) {
    if (!target) throw new Error(`no transport target for ${broker}`);
    await target.transport.declareGroup?.('orders', 'bench');
    const table = `bench_outbox_brokers_${suffix}_${tables.length}`;
    tables.push(table);
    await postgresOutbox(pool, { table }).migrate();
    subjects[`relay → ${broker}`] = () => drain(pool, table, target.transport);
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
    for (const target of Object.values(targets)) await target?.dispose().catch(() => {});
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
    description: `${rows.toLocaleString('en')} committed rows relayed to Redis Streams and RabbitMQ, against each broker's publish-with-confirm floor by hand (messages/s)`,
    mode: { kind: 'op' },
    operations: rows,
    subjects: {},
    measure,
  },
];

export default definitions;
