// transports.postgres-latency (#21) — the PostgreSQL transport one message at a time: latency from
// just before publish() to the start of the handler, publishing the next message only after the
// previous one was handled and acked. ns/op is that latency (p50 or p99 over
// all `rounds` × `perRound` messages of a subject; the p50/p99 of each round are listed beside
// it), subjects interleaved round by round.
//
// Subjects (each on a fresh table, with a publisher and a subscriber that share no connection, as
// two processes would, so the subscriber is woken through LISTEN/NOTIFY):
//   bulwark                the publisher's postgresTransport(pool, { notifyInPublish: true }).publish(); the subscriber's
//                          postgresTransport(pool).subscribe() handler acks explicitly
//   floor (raw pg)         the same round trips written by hand on `pg`, the fewest there can be:
//                          one statement INSERTs the row and NOTIFYs (one transaction, synchronous
//                          commit) → the LISTEN connection wakes → one DELETE … RETURNING claims
//                          the oldest row (FOR UPDATE SKIP LOCKED; committed asynchronously, as
//                          the transport's claims are by default) → handler. No visibility
//                          timeout, no redelivery, no per-key order, no envelope validation.
//
// Also printed: statements sent per message (every connection's queries counted, LISTEN included),
// by statement, for each subject; and each subject's timeline of one message, the median time of
// each step after publish() was called (publish statement sent, notification received by the
// subscriber's LISTEN connection, claim statement sent and answered, handler start, publish answered).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createEnvelope, type Delivery, type Envelope, jsonSerializer } from '@bulwark/messaging';
import { postgresTransport } from '@bulwark/messaging/postgres';
import pg from 'pg';
import { type BenchmarkDefinition, percentile, type SubjectResult } from '../harness.js';

const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const payload = { data: 'x'.repeat(1_000) };
// Short rounds, interleaved, so a burst of load from elsewhere on the machine hits every subject.
const rounds = 10;
const perRound = 200;
const warmUp = 100;
const suffix = `${process.pid}_${Date.now().toString(36)}`;

/** One subject: `send` publishes one message and resolves with the ns until its handler started, once handled. */
interface LatencySubject {
  send(): Promise<number>;
  dispose(): Promise<void>;
}

/** Counts the statements every connection of `pool` sends, by a short label of the statement. */
class StatementCounter {
  readonly counts = new Map<string, number>();
  watch(pool: pg.Pool): pg.Pool {
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...parameters: unknown[]) => unknown;
      (client as { query: unknown }).query = (...parameters: unknown[]) => {
        const first = parameters[0];
        const text = typeof first === 'string' ? first : ((first as { text?: string }).text ?? '');
        const label = StatementCounter.label(text);
        this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
        return query(...parameters);
      };
    });
    return pool;
  }
  /** The statement's header (`-- postgresTransport: acks …`) or its first words. */
  private static label(text: string): string {
    const line = text.split('\n').find((candidate) => candidate.trim() !== '') ?? '';
    return line.replace(/^--\s*/, '').slice(0, 48);
  }
  reset(): void {
    this.counts.clear();
  }
  describe(messages: number): string {
    const total = [...this.counts.values()].reduce((sum, count) => sum + count, 0);
    const parts = [...this.counts]
      .filter(([, count]) => count >= messages / 100)
      .sort(([, left], [, right]) => right - left)
      .map(([label, count]) => `${(count / messages).toFixed(2)} × ${label}`);
    return `${(total / messages).toFixed(2)} per message: ${parts.join('; ')}`;
  }
}

/** The steps of one message that {@link StepTimeline} times, in the order they usually come. */
const steps = [
  'publish sent',
  'notified',
  'claim sent',
  'claim answered',
  'handler start',
  'publish answered',
] as const;
type Step = (typeof steps)[number];

/**
 * Times the steps of each message of a subject from just before publish(): the publisher pool's
 * first statement is the publish, and the subscriber pool's first statement after a notification
 * is the claim (the ack comes after the handler started).
 */
class StepTimeline {
  private startedAt = 0;
  private readonly current = new Map<Step, number>();
  private readonly samples = new Map<Step, number[]>(steps.map((step) => [step, []]));
  watch(pool: pg.Pool, role: 'publisher' | 'subscriber'): pg.Pool {
    pool.on('connect', (client) => {
      if (role === 'subscriber') client.on('notification', () => this.mark('notified'));
      const query = client.query.bind(client) as (...parameters: unknown[]) => unknown;
      (client as { query: unknown }).query = (...parameters: unknown[]) => {
        const statement = role === 'publisher' ? 'publish' : this.current.has('notified') ? 'claim' : undefined;
        if (statement === undefined || this.current.has(`${statement} sent`)) return query(...parameters);
        this.mark(`${statement} sent`);
        const answered = () => this.mark(`${statement} answered`);
        const callback = parameters.at(-1);
        if (typeof callback === 'function') {
          return query(...parameters.slice(0, -1), (...results: unknown[]) => {
            answered();
            return (callback as (...results: unknown[]) => unknown)(...results);
          });
        }
        const result = query(...parameters) as Promise<unknown>;
        result.then(answered, () => {});
        return result;
      };
    });
    return pool;
  }
  /** A message is about to be published. */
  begin(): void {
    this.current.clear();
    this.startedAt = performance.now();
  }
  /** The first time `step` happened for the current message. */
  mark(step: Step): void {
    if (!this.current.has(step)) this.current.set(step, performance.now());
  }
  /** The current message was handled and its publish answered. */
  end(): void {
    for (const [step, at] of this.current) this.samples.get(step)?.push((at - this.startedAt) * 1e3);
  }
  reset(): void {
    for (const values of this.samples.values()) values.length = 0;
  }
  describe(): string {
    const median = (values: number[]) =>
      percentile(
        [...values].sort((left, right) => left - right),
        0.5,
      );
    return steps.map((step) => `${step} ${median(this.samples.get(step) ?? []).toFixed(0)}`).join(', ');
  }
}

const newPool = (counter: StatementCounter, max: number, options: pg.PoolConfig = {}) => {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: 'bulwark-bench-latency',
    ...options,
  });
  pool.on('error', () => {});
  return counter.watch(pool);
};

/** Resolves `waitFor(id)` with the time its handler started. */
class HandlerStarts {
  private readonly waiting = new Map<string, (startedAt: number) => void>();
  waitFor(id: string): Promise<number> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }
  started(id: string, startedAt: number): void {
    this.waiting.get(id)?.(startedAt);
    this.waiting.delete(id);
  }
}

async function bulwarkSubject(counter: StatementCounter, timeline: StepTimeline): Promise<LatencySubject> {
  const table = `bench_latency_${suffix}`;
  const publisherPool = timeline.watch(newPool(counter, 4), 'publisher');
  const subscriberPool = timeline.watch(newPool(counter, 4), 'subscriber');
  // One publisher, latency first: the case notifyInPublish is for (the floor notifies in its INSERT too).
  const publisher = postgresTransport(publisherPool, { table, notifyInPublish: true });
  const subscriber = postgresTransport(subscriberPool, { table });
  await publisher.migrate();
  const topic = `bench.${randomUUID()}`;
  const starts = new HandlerStarts();
  const subscription = await subscriber.subscribe(
    topic,
    'bench',
    async (delivery: Delivery) => {
      const startedAt = performance.now();
      timeline.mark('handler start');
      await delivery.ack();
      starts.started(delivery.message.id, startedAt);
    },
    { prefetch: 1 },
  );
  return {
    async send() {
      const message = createEnvelope({ topic, type: 'bench.message', payload });
      const handled = starts.waitFor(message.id);
      timeline.begin();
      const sentAt = performance.now();
      await publisher.publish(topic, [message]);
      const startedAt = await handled;
      timeline.end();
      return (startedAt - sentAt) * 1e6;
    },
    async dispose() {
      await subscription.close({ deadlineMs: 0 });
      await subscriber.close({ deadlineMs: 0 });
      await publisher.close({ deadlineMs: 0 });
      await publisherPool.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups"`);
      await Promise.all([publisherPool.end(), subscriberPool.end()]);
    },
  };
}

async function floorSubject(counter: StatementCounter, timeline: StepTimeline): Promise<LatencySubject> {
  const table = `bench_latency_floor_${suffix}`;
  const channel = `${table}_wake`;
  const publisherPool = timeline.watch(newPool(counter, 1), 'publisher');
  // Claims commit asynchronously, as the transport's do by default (no WAL fsync before the handler).
  const subscriberPool = timeline.watch(newPool(counter, 2, { options: '-c synchronous_commit=off' }), 'subscriber');
  await publisherPool.query(
    `CREATE TABLE "${table}" (id bigserial PRIMARY KEY, topic text NOT NULL, body bytea NOT NULL)`,
  );
  const listener = await subscriberPool.connect();
  const starts = new HandlerStarts();
  // One claim at a time, as a subscription with prefetch 1; a notification meanwhile claims again.
  let claiming = false;
  let again = false;
  const claim = async (): Promise<void> => {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    do {
      again = false;
      const { rows } = await subscriberPool.query<{ body: Buffer }>(
        `DELETE FROM "${table}" WHERE id = (SELECT id FROM "${table}" WHERE topic = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING body`,
        [topic],
      );
      for (const row of rows) {
        const message = jsonSerializer.deserialize(row.body) as Envelope;
        timeline.mark('handler start');
        starts.started(message.id, performance.now());
      }
    } while (again);
    claiming = false;
  };
  const topic = `bench.${randomUUID()}`;
  listener.on('notification', () => void claim());
  await listener.query(`LISTEN "${channel}"`);
  return {
    async send() {
      const message = createEnvelope({ topic, type: 'bench.message', payload });
      const handled = starts.waitFor(message.id);
      timeline.begin();
      const sentAt = performance.now();
      await publisherPool.query(
        `WITH inserted AS (INSERT INTO "${table}" (topic, body) VALUES ($1, $2) RETURNING topic) SELECT pg_notify($3, topic) FROM inserted`,
        [topic, jsonSerializer.serialize(message), channel],
      );
      const startedAt = await handled;
      timeline.end();
      return (startedAt - sentAt) * 1e6;
    },
    async dispose() {
      listener.release();
      await publisherPool.query(`DROP TABLE IF EXISTS "${table}"`);
      await Promise.all([publisherPool.end(), subscriberPool.end()]);
    },
  };
}

const subjects: Record<string, (counter: StatementCounter, timeline: StepTimeline) => Promise<LatencySubject>> = {
  bulwark: bulwarkSubject,
  'floor (raw pg)': floorSubject,
};

async function measure(): Promise<SubjectResult[]> {
  const names = Object.keys(subjects);
  const counters = new Map(names.map((name) => [name, new StatementCounter()]));
  const timelines = new Map(names.map((name) => [name, new StepTimeline()]));
  const made = new Map<string, LatencySubject>();
  const samples = new Map(
    names.map((name) => [name, { all: [] as number[], p50: [] as number[], p99: [] as number[] }]),
  );
  try {
    for (const name of names) {
      const counter = counters.get(name) as StatementCounter;
      const timeline = timelines.get(name) as StepTimeline;
      const subject = await (subjects[name] as (typeof subjects)[string])(counter, timeline);
      made.set(name, subject);
      for (let index = 0; index < warmUp; index++) await subject.send();
      counter.reset();
      timeline.reset();
    }
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no subject always runs first.
      for (let offset = 0; offset < names.length; offset++) {
        const name = names[(round + offset) % names.length] as string;
        const subject = made.get(name) as LatencySubject;
        const latencies: number[] = [];
        for (let index = 0; index < perRound; index++) latencies.push(await subject.send());
        latencies.sort((left, right) => left - right);
        samples.get(name)?.all.push(...latencies);
        samples.get(name)?.p50.push(percentile(latencies, 0.5));
        samples.get(name)?.p99.push(percentile(latencies, 0.99));
      }
    }
  } finally {
    for (const subject of made.values()) await subject.dispose().catch(() => {});
  }
  for (const [name, counter] of counters) console.log(`(${name} statements: ${counter.describe(rounds * perRound)})`);
  for (const [name, timeline] of timelines)
    console.log(`(${name} timeline, median µs after publish() was called: ${timeline.describe()})`);
  return names.flatMap((name) => {
    const { all, p50, p99 } = samples.get(name) ?? { all: [], p50: [], p99: [] };
    all.sort((left, right) => left - right);
    const row = (fraction: number, roundsNsPerOp: number[]): SubjectResult => {
      const nsPerOp = percentile(all, fraction);
      return { subject: `${name} p${fraction * 100}`, nsPerOp, opsPerSecond: 1e9 / nsPerOp, roundsNsPerOp };
    };
    return [row(0.5, p50), row(0.99, p99)];
  });
}

const definitions: BenchmarkDefinition[] = [
  {
    name: 'transports.postgres-latency',
    description: `one message at a time, publish → handler start, p50/p99 over ${rounds} × ${perRound} messages (each round's beside it); ns/op is the latency`,
    mode: { kind: 'op' },
    operations: perRound,
    rounds,
    subjects: {},
    baseline: 'floor (raw pg) p50',
    measure,
  },
];

export default definitions;
