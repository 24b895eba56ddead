// End-to-end throughput of the transports: one operation = publish one 1 KB message, the
// subscriber's handler runs, the delivery is acked; the caller's promise resolves after the ack.
// `concurrency` callers keep that many messages in flight (the subscription's prefetch matches).
//
// HOOKS for other adapters — add an entry, nothing else changes:
// - `transportTargets`: a Bulwark Transport (redis-streams, amqp, …): how to make it and dispose of it.
// - `peerTargets`: a peer library measured on the same terms (e.g. BullMQ processing the same
//   no-op jobs on the same Redis): a factory returning `run` (one publish → handled → acked) and `dispose`.
import { randomUUID } from 'node:crypto';
import { createEnvelope, type Delivery, memoryTransport, type Transport } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { natsTransport } from '@bulwark/messaging/nats';
import { postgresTransport } from '@bulwark/messaging/postgres';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import amqp from 'amqplib';
import { Queue, Worker } from 'bullmq';
import { Logger, makeWorkerUtils, run as runGraphileWorker } from 'graphile-worker';
import { Redis } from 'ioredis';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { BenchmarkDefinition, Subject } from '../harness.js';

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const natsServers = (process.env.NATS_URL || 'nats://127.0.0.1:4222').replace(/^nats:\/\//, '');
const payload = { data: 'x'.repeat(1_000) };
const concurrencies = [1, 32] as const;

/** Callers waiting for the handler of their message, by message (or job) id. */
class HandlerWaits {
  readonly #waiting = new Map<string, () => void>();

  /** Resolves once {@link handled} is called with `id`. */
  wait(id: string): Promise<void> {
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  handled(id: string): void {
    this.#waiting.get(id)?.();
    this.#waiting.delete(id);
  }
}

/** A resource the teardown must release. */
type Dispose = () => Promise<void>;

/** A Bulwark transport under benchmark. */
export interface TransportTarget {
  make(): Promise<{ transport: Transport; dispose: Dispose }>;
}

/** A peer library under benchmark: `run` publishes one job and resolves once it is processed and acked. */
export interface PeerTarget {
  make(concurrency: number): Promise<{ run: () => Promise<void>; dispose: Dispose }>;
}

export const transportTargets: Record<string, TransportTarget> = {
  memory: {
    async make() {
      const transport = memoryTransport();
      return { transport, dispose: () => transport.close({ deadlineMs: 0 }) };
    },
  },
  postgres: {
    async make() {
      const pool = new pg.Pool({
        connectionString: databaseUrl,
        max: 12,
        application_name: 'bulwark-bench-transports',
      });
      pool.on('error', () => {});
      const table = `bench_messages_${process.pid}`;
      const transport = postgresTransport(pool, { table });
      await transport.migrate();
      return {
        transport,
        dispose: async () => {
          await transport.close({ deadlineMs: 0 });
          await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups"`);
          await pool.end();
        },
      };
    },
  },
  'redis-streams': {
    async make() {
      const redis = new Redis(redisUrl);
      const keyPrefix = `bench:${randomUUID().slice(0, 8)}:`;
      const transport = redisStreamsTransport(redis, { keyPrefix });
      return {
        transport,
        dispose: async () => {
          await transport.close({ deadlineMs: 0 });
          const keys = await redis.keys(`${keyPrefix}*`);
          if (keys.length > 0) await redis.del(...keys);
          redis.disconnect();
        },
      };
    },
  },
  'amqp (quorum queue)': amqpTarget('quorum'),
  'amqp (classic queue)': amqpTarget('classic'),
  nats: natsTarget({}),
};

/**
 * The NATS transport on a connection of its own. `noAsyncTraces` is the client's option that skips
 * the stack it captures for every request (each JetStream publish is one), the `nats
 * (noAsyncTraces)` row of `transports.nats`.
 */
function natsTarget(connectionOptions: { noAsyncTraces?: boolean }): TransportTarget {
  return {
    async make() {
      const connection = await connectNats({ servers: natsServers, maxReconnectAttempts: -1, ...connectionOptions });
      const stream = `BENCH_${randomUUID().slice(0, 8)}`;
      const transport = natsTransport(connection, { stream, subjectPrefix: stream.toLowerCase() });
      return {
        transport,
        dispose: async () => {
          await transport.close({ deadlineMs: 0 });
          await (await jetstreamManager(connection)).streams.delete(stream);
          await connection.close();
        },
      };
    },
  };
}

/** The floor of the NATS rows (see `peerTargets`), on a connection with these options. */
function rawNatsTarget(connectionOptions: { noAsyncTraces?: boolean }): PeerTarget {
  return {
    async make(concurrency) {
      const connection = await connectNats({ servers: natsServers, ...connectionOptions });
      const manager = await jetstreamManager(connection);
      const stream = `BENCH_RAW_${randomUUID().slice(0, 8)}`;
      const subject = `${stream.toLowerCase()}.messages`;
      await manager.streams.add({
        name: stream,
        subjects: [subject],
        retention: RetentionPolicy.Interest,
        storage: StorageType.File,
      });
      await manager.consumers.add(stream, {
        durable_name: 'bench',
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: subject,
      });
      const js = jetstream(connection);
      const waiting = new HandlerWaits();
      const consumer = await js.consumers.get(stream, 'bench');
      const messages = await consumer.consume({
        max_messages: concurrency,
        callback: (message) => {
          const { id } = message.json<{ id: string }>();
          message.ack();
          waiting.handled(id);
        },
      });
      return {
        run: async () => {
          const id = randomUUID();
          const handled = waiting.wait(id);
          const body = Buffer.from(JSON.stringify({ id, type: 'bench.message', payload }));
          await js.publish(subject, body, { msgID: id });
          await handled;
        },
        dispose: async () => {
          messages.stop();
          await manager.streams.delete(stream);
          await connection.close();
        },
      };
    },
  };
}

function amqpTarget(queueType: 'quorum' | 'classic'): TransportTarget {
  return {
    async make() {
      const exchange = `bench-${randomUUID().slice(0, 8)}`;
      // noDelay: amqplib leaves Nagle's algorithm on by default, which adds ~40 ms to a lone message.
      const transport = amqpTransport(() => amqp.connect(amqpUrl, { noDelay: true }), {
        exchange,
        queuePrefix: `${exchange}:`,
        queueType,
        queueArguments: { 'x-expires': 60_000 }, // the bench queues go away on their own
      });
      return {
        transport,
        dispose: async () => {
          await transport.close({ deadlineMs: 0 });
          const admin = await amqp.connect(amqpUrl);
          await (await admin.createChannel()).deleteExchange(exchange);
          await admin.close();
        },
      };
    },
  };
}

/**
 * The AMQP floor: what the transport does, written by hand on amqplib. A durable topic exchange
 * bound to a durable queue, persistent messages on a confirm channel (resolved by the broker's
 * confirm), a consumer with manual acks and prefetch = concurrency, a JSON body carrying the id.
 */
function rawAmqplibTarget(queueType: 'quorum' | 'classic'): PeerTarget {
  return {
    async make(concurrency) {
      const name = `bench-raw-${randomUUID().slice(0, 8)}`;
      const connection = await amqp.connect(amqpUrl, { noDelay: true });
      const publisher = await connection.createConfirmChannel();
      const consumer = await connection.createChannel();
      await publisher.assertExchange(name, 'topic', { durable: true });
      await consumer.assertQueue(name, {
        durable: true,
        arguments: { 'x-expires': 60_000, ...(queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {}) },
      });
      await consumer.bindQueue(name, name, name);
      await consumer.prefetch(concurrency);
      const waiting = new HandlerWaits();
      await consumer.consume(name, (message) => {
        if (!message) return;
        const { id } = JSON.parse(message.content.toString()) as { id: string };
        consumer.ack(message);
        waiting.handled(id);
      });
      return {
        run: async () => {
          const id = randomUUID();
          const handled = waiting.wait(id);
          await new Promise<void>((resolve, reject) =>
            publisher.publish(
              name,
              name,
              Buffer.from(JSON.stringify({ id, type: 'bench.message', payload })),
              { persistent: true, contentType: 'application/json', messageId: id },
              (error: unknown) => (error ? reject(error) : resolve()),
            ),
          );
          await handled;
        },
        dispose: async () => {
          await consumer.deleteQueue(name).catch(() => {});
          await publisher.deleteExchange(name).catch(() => {});
          await connection.close();
        },
      };
    },
  };
}

export const peerTargets: Record<string, PeerTarget> = {
  // The floor of the amqp rows (#21): ratio = amqp row's ops/s ÷ the raw row's of the same queue type.
  'amqplib raw (quorum queue)': rawAmqplibTarget('quorum'),
  'amqplib raw (classic queue)': rawAmqplibTarget('classic'),
  // The floor of the NATS row: the official client by hand on the same stream layout (interest
  // retention, file storage, one replica, the default 2-minute duplicate window = the transport's
  // 120 s) and consumer kind (durable pull consumer, explicit ack, deliver new): js.publish awaiting
  // the stream's acknowledgement with a Nats-Msg-Id (as the transport's dedup id), a JSON body
  // carrying the id built per message and parsed on receipt (as the AMQP floor; the transport does
  // the same with its envelope), consume() with a callback that acks. Both settle with `ack()`, which
  // the server does not confirm (neither waits for `ackAck()`); at-least-once holds either way, an
  // ack lost on the way is a redelivery after ack_wait. What the floor skips: the prefetch bound (consume()
  // refills by what arrived, not by what was settled), the stream-name expectation on publish, the
  // publish retry and the per-topic routing check.
  'nats raw (@nats-io JetStream)': rawNatsTarget({}),
  // pg-boss 10.4 (the newest that runs on Node 20) on the same PostgreSQL, at its best: one worker
  // fetching up to `concurrency` jobs at a time, polling at its minimum interval (0.5 s; pg-boss 10
  // has no LISTEN wake-up), and woken after every send with `notifyWorker` (only possible when the
  // producer shares the worker's process, as here). A job counts as handled when its handler runs;
  // pg-boss completes the batch when the handler resolves.
  'pg-boss': {
    async make(concurrency) {
      const schema = `bench_pgboss_${randomUUID().slice(0, 8)}`;
      const boss = new PgBoss({ connectionString: databaseUrl, schema, max: 8, supervise: false });
      boss.on('error', () => {});
      await boss.start();
      const name = 'bench';
      await boss.createQueue(name);
      const waiting = new HandlerWaits();
      const worker = await boss.work(name, { batchSize: concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) {
          const id = (job.data as { id: string }).id;
          waiting.handled(id);
        }
      });
      return {
        run: async () => {
          const id = randomUUID();
          const handled = waiting.wait(id);
          await boss.send(name, { id, ...payload });
          boss.notifyWorker(worker);
          await handled;
        },
        dispose: async () => {
          await boss.stop({ graceful: false, wait: true });
          const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await pool.end();
        },
      };
    },
  },
  // graphile-worker 0.17 (the newest that runs on Node 20) on the same PostgreSQL: LISTEN/NOTIFY
  // wake-ups, `concurrency` jobs at once. A job counts as handled when its task runs; the worker
  // deletes it when the task resolves. At its documented batching settings
  // (https://worker.graphile.org/docs/performance#batching): with concurrency, a local queue of
  // `concurrency + 1` (its suggested start) so the pool fetches jobs in batches; without, each of the
  // 32 workers polled for every new job, each poll scanning the jobs table's dead rows, and with
  // autovacuum off on the bench server its server CPU per job grew round after round (2.0 → 11.4 ms
  // over 6 rounds of 2,000 jobs; 0.7-2.1 ms flat with the local queue). Completions batched per tick.
  'graphile-worker': {
    async make(concurrency) {
      const schema = `bench_graphile_${randomUUID().slice(0, 8)}`;
      const waiting = new HandlerWaits();
      const runner = await runGraphileWorker({
        preset: {
          worker: {
            ...(concurrency > 1 ? { localQueue: { size: concurrency + 1 } } : {}),
            completeJobBatchDelay: 0,
          },
        },
        connectionString: databaseUrl,
        schema,
        concurrency,
        noHandleSignals: true,
        pollInterval: 1_000,
        logger: new Logger(() => () => {}), // a line per job otherwise
        taskList: {
          bench: async (job) => {
            const id = (job as { id: string }).id;
            waiting.handled(id);
          },
        },
      });
      const utils = await makeWorkerUtils({
        connectionString: databaseUrl,
        schema,
        logger: new Logger(() => () => {}),
      });
      return {
        run: async () => {
          const id = randomUUID();
          const handled = waiting.wait(id);
          await utils.addJob('bench', { id, ...payload });
          await handled;
        },
        dispose: async () => {
          await runner.stop();
          await utils.release();
          const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await pool.end();
        },
      };
    },
  },
  // BullMQ processing the same no-op jobs on the same Redis; a job is done once the worker
  // reports it completed (moved to completed = acked).
  bullmq: {
    async make(concurrency) {
      const name = `bench-${randomUUID().slice(0, 8)}`;
      const connection = { url: redisUrl, maxRetriesPerRequest: null };
      const queue = new Queue(name, { connection });
      const waiting = new HandlerWaits();
      const worker = new Worker(name, async () => {}, { connection, concurrency });
      worker.on('completed', (job) => {
        waiting.handled(job.id as string);
      });
      await worker.waitUntilReady();
      return {
        run: async () => {
          const jobId = randomUUID();
          const handled = waiting.wait(jobId);
          await queue.add('bench.message', payload, { jobId, removeOnComplete: true, removeOnFail: true });
          await handled;
        },
        dispose: async () => {
          await worker.close();
          await queue.obliterate({ force: true });
          await queue.close();
        },
      };
    },
  },
};

const disposers: Dispose[] = [];

/** One publish → handler → ack round trip per `run`, on a fresh topic of `transport`. */
async function endToEnd(transport: Transport, concurrency: number): Promise<Subject> {
  const topic = `bench.${randomUUID()}`;
  const waiting = new HandlerWaits();
  const subscription = await transport.subscribe(
    topic,
    'bench',
    async (delivery: Delivery) => {
      await delivery.ack();
      waiting.handled(delivery.message.id);
    },
    { prefetch: concurrency },
  );
  disposers.push(() => subscription.close({ deadlineMs: 0 }));
  return {
    run: async () => {
      const message = createEnvelope({ topic, type: 'bench.message', payload });
      const handled = waiting.wait(message.id);
      await transport.publish(topic, [message]);
      await handled;
    },
  };
}

function definition(concurrency: number): BenchmarkDefinition {
  const subjects: BenchmarkDefinition['subjects'] = {};
  for (const [name, target] of Object.entries(transportTargets)) {
    subjects[name] = async () => {
      const { transport, dispose } = await target.make();
      disposers.push(dispose);
      return endToEnd(transport, concurrency);
    };
  }
  for (const [name, target] of Object.entries(peerTargets)) {
    subjects[name] = async () => {
      const { run, dispose } = await target.make(concurrency);
      disposers.push(dispose);
      return { run };
    };
  }
  return {
    name: `transports.e2e.c${concurrency}`,
    description: 'publish → handler → ack of one 1 KB message, messages/s',
    mode: concurrency === 1 ? { kind: 'op' } : { kind: 'concurrent', concurrency },
    operations: concurrency === 1 ? 400 : 2_000,
    rounds: 5,
    subjects,
    ...('bullmq' in peerTargets ? { baseline: 'bullmq' } : {}),
    teardown: async () => {
      // Subscriptions first (pushed after their transport), then transports, pools and tables.
      for (const dispose of disposers.splice(0).reverse()) await dispose().catch(() => {});
    },
  };
}

/** A transport row beside its floor, written by hand on the same broker's client. */
interface FocusedPair {
  readonly transport: string;
  readonly floor: string;
}

/** Rows of the focused definitions only (not of transports.e2e): NATS without the client's async traces. */
const focusedTransportTargets: Record<string, TransportTarget> = {
  ...transportTargets,
  'nats (noAsyncTraces)': natsTarget({ noAsyncTraces: true }),
};
const focusedPeerTargets: Record<string, PeerTarget> = {
  ...peerTargets,
  'nats raw (@nats-io JetStream, noAsyncTraces)': rawNatsTarget({ noAsyncTraces: true }),
};

/**
 * `pnpm bench transports.nats` and `transports.amqp`: only a broker's transport rows and their
 * floors, more rounds, and the harness's client CPU rows (the bench process runs publisher,
 * consumer and callers alike, so they are the whole client side), which the machine's load skews
 * less than wall time. Each row's ratio is against its floor's row of the same kind.
 */
function focusedDefinition(
  broker: string,
  description: string,
  pairs: readonly FocusedPair[],
  concurrency: number,
): BenchmarkDefinition {
  const subjects: BenchmarkDefinition['subjects'] = {};
  for (const { transport: name } of pairs) {
    subjects[name] = async () => {
      const { transport, dispose } = await (focusedTransportTargets[name] as TransportTarget).make();
      disposers.push(dispose);
      return endToEnd(transport, concurrency);
    };
  }
  for (const { floor: name } of pairs) {
    subjects[name] = async () => {
      const { run, dispose } = await (focusedPeerTargets[name] as PeerTarget).make(concurrency);
      disposers.push(dispose);
      return { run };
    };
  }
  return {
    name: `transports.${broker}.c${concurrency}`,
    description,
    mode: concurrency === 1 ? { kind: 'op' } : { kind: 'concurrent', concurrency },
    operations: concurrency === 1 ? 400 : 4_000,
    rounds: 9,
    subjects,
    baselineOf: Object.fromEntries(
      pairs.flatMap(({ transport, floor }) => [
        [transport, floor],
        [floor, floor],
      ]),
    ),
    clientCpu: true,
    teardown: async () => {
      for (const dispose of disposers.splice(0).reverse()) await dispose().catch(() => {});
    },
  };
}

const natsDefinition = (concurrency: number) =>
  focusedDefinition(
    'nats',
    'NATS JetStream: publish → handler → ack of one 1 KB message, transport vs raw client',
    [
      { transport: 'nats', floor: 'nats raw (@nats-io JetStream)' },
      { transport: 'nats (noAsyncTraces)', floor: 'nats raw (@nats-io JetStream, noAsyncTraces)' },
    ],
    concurrency,
  );

/** The AMQP rows of `transports.e2e`, each beside its raw amqplib floor (#21: the goal is >= 0.95x). */
const amqpDefinition = (concurrency: number) =>
  focusedDefinition(
    'amqp',
    'AMQP: publish → handler → ack of one 1 KB message, transport vs raw amqplib (confirm channel, manual acks)',
    [
      { transport: 'amqp (quorum queue)', floor: 'amqplib raw (quorum queue)' },
      { transport: 'amqp (classic queue)', floor: 'amqplib raw (classic queue)' },
    ],
    concurrency,
  );

const definitions: BenchmarkDefinition[] = [
  ...concurrencies.map(definition),
  ...concurrencies.map(natsDefinition),
  amqpDefinition(32),
];
export default definitions;
