// A relay's timeline in the outbox.to-brokers relay rows (BENCH_TIMELINE=<directory>): where a relay
// (the one in the bench's process, or a member of the fleet) spends a round. Every statement on the
// relay's pg connections and every publish is recorded with its start and end (hrtime), and per round
// the relay's process appends to <directory>/relay-<pid>.jsonl one line: the round's span (from the
// commit of the rows to the last accepted publish), the time each kind of statement took, the time
// some publish was in flight, the time nothing was (neither a statement nor a publish: the relay's
// own CPU, or waiting for its event loop or for a CPU), the event loop's utilization, the CPU of the
// process and of its PostgreSQL backends, and every interval of the round. Measuring costs a little
// CPU, so the bench's figures come from runs without it.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JsonEnvelope, PublishOptions, Transport } from '@bulwark/messaging';
import type pg from 'pg';

/** What a statement of the relay is, from its SQL. */
function kindOf(text: string): string {
  if (text.includes('pg_locks')) return 'fleet-members';
  if (text.includes('pg_try_advisory_lock')) return 'partition-take';
  if (text.includes('pg_advisory_unlock(')) return 'partition-release';
  if (text.includes('claimed') || text.includes('ORDER BY outbox.position')) return 'read';
  if (text.includes('DELETE FROM')) return 'delete';
  return 'other';
}

interface Interval {
  readonly kind: string;
  readonly start: bigint;
  end: bigint;
  readonly count: number;
}

/** Records statements and publishes of one relay process; writes a summary per round. */
export class RelayTimeline {
  private intervals: Interval[] = [];
  private utilization = performance.eventLoopUtilization();
  private cpu = process.cpuUsage();
  private readonly file: string;
  /** Backend pids of the pool's connections, with their CPU ms at the last mark. */
  private readonly backends = new Map<number, number>();

  constructor(directory: string) {
    this.file = join(directory, `relay-${process.pid}.jsonl`);
  }

  /** Times every statement of the clients `pool` hands out. */
  watch(pool: pg.Pool): void {
    const patched = new WeakSet<object>();
    pool.on('acquire', (client) => {
      if (patched.has(client)) return;
      patched.add(client);
      const pid = (client as unknown as { processID?: number }).processID;
      if (pid !== undefined) this.backends.set(pid, backendCpuMs(pid));
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        const first = args[0] as string | { text: string };
        const text = typeof first === 'string' ? first : first.text;
        const result = query(...args);
        if (!(result instanceof Promise)) return result;
        return this.timed(kindOf(text), () => result as Promise<{ rows?: unknown[] }>);
      };
    });
  }

  /** `transport`, every publish timed. */
  transport(transport: Pick<Transport, 'publish' | 'publishJson'>): Pick<Transport, 'publish' | 'publishJson'> {
    const publishJson = transport.publishJson?.bind(transport);
    return {
      publish: (topic, messages, options) =>
        this.timed('publish', () => transport.publish(topic, messages, options), messages.length),
      ...(publishJson && {
        publishJson: (topic: string, messages: readonly JsonEnvelope[], options?: PublishOptions) =>
          this.timed('publish', () => publishJson(topic, messages, options), messages.length),
      }),
    };
  }

  /** Runs `work` as an interval of `kind`; counts its rows, or `count` messages. */
  async timed<T>(kind: string, work: () => Promise<T>, count?: number): Promise<T> {
    const start = process.hrtime.bigint();
    let result: T | undefined;
    try {
      result = await work();
      return result;
    } finally {
      const rows = (result as { rows?: unknown[] } | undefined)?.rows?.length ?? 0;
      this.intervals.push({ kind, start, end: process.hrtime.bigint(), count: count ?? rows });
    }
  }

  /**
   * Writes the summary of what was recorded since the last mark (if anything), and starts again.
   * `committedAt`: the hrtime of the round's commit, where the round starts.
   */
  mark(committedAt: bigint | undefined): void {
    const intervals = this.intervals;
    const utilization = performance.eventLoopUtilization(this.utilization);
    this.intervals = [];
    this.utilization = performance.eventLoopUtilization();
    const cpu = process.cpuUsage(this.cpu);
    this.cpu = process.cpuUsage();
    const publishes = intervals.filter((interval) => interval.kind === 'publish');
    if (publishes.length === 0) return;
    const start = committedAt ?? (publishes[0] as Interval).start;
    const end = publishes.reduce((last, interval) => later(last, interval.end), 0n);
    const inRound = intervals.filter((interval) => interval.end > start && interval.start < end);
    const ms = (ns: bigint) => Number(ns) / 1e6;
    const byKind: Record<string, { count: number; ms: number; maxMs: number }> = {};
    for (const interval of inRound) {
      const entry = byKind[interval.kind] ?? { count: 0, ms: 0, maxMs: 0 };
      byKind[interval.kind] = entry;
      const took = ms(interval.end - interval.start);
      entry.count += 1;
      entry.ms += took;
      entry.maxMs = Math.max(entry.maxMs, took);
    }
    const union = (selected: Interval[]) => {
      let total = 0n;
      let coveredTo = start;
      for (const interval of [...selected].sort(byStart)) {
        const from = later(interval.start, coveredTo);
        const to = interval.end - later(interval.end - end, 0n);
        if (to > from) total += to - from;
        if (to > coveredTo) coveredTo = to;
      }
      return ms(total);
    };
    const statements = inRound.filter((interval) => interval.kind !== 'publish');
    let backendMs = 0;
    for (const [pid, before] of this.backends) {
      const now = backendCpuMs(pid);
      backendMs += now - before;
      this.backends.set(pid, now);
    }
    const spanMs = ms(end - start);
    const summary = {
      spanMs,
      messages: publishes.reduce((sum, interval) => sum + interval.count, 0),
      publishInFlightMs: union(publishes),
      statementInFlightMs: union(statements),
      neitherMs: spanMs - union(inRound),
      eventLoopUtilization: utilization.utilization,
      // CPU of this relay's PostgreSQL backends since the last mark (10 ms ticks; the machine's
      // PostgreSQL must be local).
      backendCpuMs: backendMs,
      processCpuMs: (cpu.user + cpu.system) / 1000,
      byKind,
      // Every interval of the round, ms from its start: kind, start, end, messages.
      events: inRound
        .sort(byStart)
        .map((interval) => [
          interval.kind,
          +ms(interval.start - start).toFixed(2),
          +ms(interval.end - start).toFixed(2),
          interval.count,
        ]),
    };
    appendFileSync(this.file, `${JSON.stringify(summary)}\n`);
  }
}

/** CPU ms (user + system) a local process used so far; 0 when it is gone. */
function backendCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** The later of two hrtimes (Math.max takes no bigint). */
const later = (first: bigint, second: bigint) => (first > second ? first : second);

const byStart = (first: Interval, second: Interval) => (first.start < second.start ? -1 : 1);

/** Where the bench writes the hrtime of a round's commit into `table`, for the fleet's timelines. */
export const commitStampFile = (directory: string, table: string) => join(directory, `commit-${table}`);
