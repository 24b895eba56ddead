// End-to-end throughput of the Redis Streams and RabbitMQ transports: one operation is one
// message published, handed to a subscriber's handler and acked (the caller waits for the ack).
// `concurrency` callers run at once and the subscriber takes that many deliveries at a time.
// BullMQ processing the same no-op jobs on the same Redis is the peer figure.
import { randomUUID } from 'node:crypto';
import { createEnvelope, type Transport } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import amqp from 'amqplib';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { BenchmarkDefinition, Subject } from '../harness.js';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
/** 1 KB of payload per message. */
const payload = { data: 'x'.repeat(1_000) };

/** Things to close when a benchmark ends. */
type Closer = () => Promise<unknown>;

/** Resolves a waiting caller when its message has been handled and acked. */
function completions() {
  const waiting = new Map<string, () => void>();
  return {
    wait: (id: string) => new Promise<void>((resolve) => waiting.set(id, resolve)),
    done: (id: string) => {
      waiting.get(id)?.();
      waiting.delete(id);
    },
  };
}

async function transportSubject(transport: Transport, concurrency: number, closers: Closer[]): Promise<Subject> {
  const topic = `bench.${randomUUID().slice(0, 8)}`;
  const { wait, done } = completions();
  await transport.subscribe(
    topic,
    'bench',
    async (delivery) => {
      await delivery.ack();
      done(delivery.message.id);
    },
    { prefetch: concurrency },
  );
  closers.push(() => transport.close({ deadlineMs: 1_000 }));
  return {
    run: async () => {
      const message = createEnvelope({ topic, type: 'bench.noop', payload });
      const handled = wait(message.id);
      await transport.publish(topic, [message]);
      await handled;
    },
  };
}

async function redisStreamsSubject(concurrency: number, closers: Closer[]): Promise<Subject> {
  const redis = new Redis(redisUrl);
  const keyPrefix = `bench:${randomUUID().slice(0, 8)}:`;
  closers.push(async () => {
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  return transportSubject(redisStreamsTransport(redis, { keyPrefix }), concurrency, closers);
}

async function amqpSubject(concurrency: number, queueType: 'quorum' | 'classic', closers: Closer[]): Promise<Subject> {
  const exchange = `bench-${randomUUID().slice(0, 8)}`;
  const queuePrefix = `${exchange}:`;
  closers.push(async () => {
    const admin = await amqp.connect(amqpUrl);
    const channel = await admin.createChannel();
    await channel.deleteExchange(exchange);
    await admin.close();
  });
  // noDelay: amqplib leaves Nagle's algorithm on by default, which adds ~40 ms to a lone message.
  const transport = amqpTransport(() => amqp.connect(amqpUrl, { noDelay: true }), {
    exchange,
    queuePrefix,
    queueType,
    queueArguments: { 'x-expires': 60_000 },
  });
  return transportSubject(transport, concurrency, closers);
}

async function bullmqSubject(concurrency: number, closers: Closer[]): Promise<Subject> {
  const name = `bench-${randomUUID().slice(0, 8)}`;
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection });
  const { wait, done } = completions();
  const worker = new Worker(name, async () => {}, { connection, concurrency });
  worker.on('completed', (job) => done(job.id as string));
  await worker.waitUntilReady();
  closers.push(async () => {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });
  return {
    run: async () => {
      const jobId = randomUUID();
      const handled = wait(jobId);
      await queue.add('noop', payload, { jobId, removeOnComplete: true, removeOnFail: true });
      await handled;
    },
  };
}

function definition(concurrency: number, operations: number): BenchmarkDefinition {
  const closers: Closer[] = [];
  return {
    name: `transports.redis-amqp.e2e.c${concurrency}`,
    description: `publish → handler → ack of 1 KB messages, ${concurrency} at a time (Redis 6379, RabbitMQ 5672)`,
    mode: concurrency === 1 ? { kind: 'op' } : { kind: 'concurrent', concurrency },
    operations,
    rounds: 3,
    baseline: 'bullmq (peer, same Redis)',
    subjects: {
      'bulwark redis-streams': () => redisStreamsSubject(concurrency, closers),
      'bulwark amqp (quorum queue)': () => amqpSubject(concurrency, 'quorum', closers),
      'bulwark amqp (classic queue)': () => amqpSubject(concurrency, 'classic', closers),
      'bullmq (peer, same Redis)': () => bullmqSubject(concurrency, closers),
    },
    teardown: async () => {
      for (const close of closers.splice(0)) await close().catch(() => {});
    },
  };
}

const definitions: BenchmarkDefinition[] = [definition(1, 500), definition(32, 4_000)];
export default definitions;
