// One driver for the infrastructure-fault suites of every server-backed adapter: the adapter's
// test gives a steady load, a probe and a way to check the books; the driver runs the faults of
// issue #15 through a fault proxy (connections cut mid-call and while idle or held, server down
// 5 s, blackhole 10 s, 200 ms latency) and asserts what must hold after each.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type FaultProxy, faultProxy } from './fault-proxy.js';

const defaultPorts: Record<string, number> = { 'postgres:': 5432, 'postgresql:': 5432, 'redis:': 6379, 'amqp:': 5672 };

/** A fault proxy in front of the server of `url` (its host and port). */
export function proxyFor(url: string): Promise<FaultProxy> {
  const parsed = new URL(url);
  return faultProxy({
    host: parsed.hostname || '127.0.0.1',
    port: Number(parsed.port) || defaultPorts[parsed.protocol] || 0,
  });
}

/** What an adapter's fault test hands the driver; made once, it must survive every fault. */
export interface FaultSubject {
  /** One call of the steady load (e.g. one publish, one rate-limit decision). */
  call(): Promise<unknown>;
  /** Whether a failed call failed the way the adapter promises (its typed error). */
  isTypedError(error: unknown): boolean;
  /**
   * One end-to-end operation that succeeds only when the adapter works again (for a transport:
   * publish and see it delivered). Rejects or returns false while it does not.
   */
  probe(): Promise<unknown>;
  /**
   * After the load stopped: waits for what is in flight to land (deliveries, a relay's backlog)
   * and counts what was acknowledged yet is missing, and what was applied twice.
   */
  checkBooks(): Promise<Books>;
  /** Shown in the summary line, e.g. the degraded health seen. */
  notes?(): string;
  /**
   * For a long-lived component with a health report: whether it reported `degraded` at some point
   * since it was made, and its status now. The driver asserts both after the last fault.
   */
  health?(): { readonly degradedSeen: boolean; readonly status: 'up' | 'degraded' };
  close(): Promise<void>;
}

/** The outcome of {@link FaultSubject.checkBooks}. */
export interface Books {
  /** Acknowledged (committed, acked) and not found. */
  readonly lost: number;
  /**
   * Applied (delivered after an ack, recorded, executed) more than once: must be 0. Undefined for
   * an adapter that promises at-least-once only (see `repeated`).
   */
  readonly doubled: number | undefined;
  /**
   * Sent more than once where the adapter promises at-least-once only (an outbox relay cut between
   * publishing and deleting publishes that row again; the consumer's inbox absorbs it). Reported,
   * not asserted.
   */
  readonly repeated?: number;
  /** Counts to print, e.g. `acknowledged=1200`. */
  readonly detail?: string;
}

/** An adapter's part of a fault suite, shared by its proxy suite and the restart suite. */
export interface FaultAdapter {
  /** Names the adapter in test titles and summary lines. */
  readonly adapter: string;
  /** The adapter's configured bound on one call of its steady load. */
  readonly callTimeoutMs: number;
  /** Makes the adapter on a fresh pool to `url`. */
  subject(url: string): Promise<FaultSubject>;
  /** Its subject reports health (see {@link FaultSubject.health}): asserted after the last fault. */
  readonly reportsHealth?: boolean;
}

/** Options of {@link faultScenarios}. */
export interface FaultScenarioOptions {
  /** Names the adapter in test titles and in the summary line. */
  readonly adapter: string;
  /** Starts the proxy in front of the server (called once). */
  readonly proxy: () => Promise<FaultProxy>;
  /** Makes the adapter, its client pointed at the proxy. */
  readonly subject: (proxy: FaultProxy) => Promise<FaultSubject>;
  /** The adapter's configured bound on one call; a call that takes longer than this (plus slack) is a hang. */
  readonly callTimeoutMs: number;
  /** Slack for a loaded machine on top of `callTimeoutMs`. @defaultValue 2_000 */
  readonly slackMs?: number;
  /** The stated bound on recovery after the server is back. @defaultValue 15_000 */
  readonly recoveryBoundMs?: number;
  /** Concurrent callers of the steady load. @defaultValue 4 */
  readonly concurrency?: number;
  /** See {@link FaultAdapter.reportsHealth}. */
  readonly reportsHealth?: boolean;
}

/** The faults of issue #15, in the order they run. */
export const faultNames = [
  'cut mid-call',
  'cut while idle or held',
  'down 5 s',
  'blackhole 10 s',
  'latency 200 ms',
] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The steady load: `concurrency` loops calling `call()`, each call timed and classified. */
class SteadyLoad {
  succeeded = 0;
  typedFailures = 0;
  readonly untyped: unknown[] = [];
  /** Calls that took longer than the bound (settled late) or never settled. */
  hangs = 0;
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly subject: FaultSubject,
    private readonly boundMs: number,
  ) {}

  start(concurrency: number): void {
    this.running = true;
    for (let index = 0; index < concurrency; index++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const startedAt = performance.now();
      const call = this.subject.call();
      this.inFlight.add(call);
      let failed = false;
      try {
        await call;
        this.succeeded += 1;
      } catch (error) {
        failed = true;
        if (this.subject.isTypedError(error)) this.typedFailures += 1;
        else this.untyped.push(error);
      } finally {
        this.inFlight.delete(call);
      }
      if (performance.now() - startedAt > this.boundMs) this.hangs += 1;
      // A server that refuses at once must not turn the load into a busy loop.
      await sleep(failed ? 50 : 5);
    }
  }

  /** Stops the loops; calls still pending after the bound count as hangs. */
  async stop(): Promise<void> {
    this.running = false;
    const pending = [...this.inFlight];
    const settled = await Promise.race([
      Promise.allSettled(this.loops).then(() => true),
      sleep(this.boundMs).then(() => false),
    ]);
    if (!settled) this.hangs += pending.length;
    this.loops.length = 0;
  }
}

/** Probes until the adapter works; resolves the time it took from `since` (past `boundMs`, gives up). */
async function recoveredAfter(subject: FaultSubject, since: number, boundMs: number): Promise<number> {
  for (;;) {
    const elapsed = performance.now() - since;
    if (elapsed > boundMs) return elapsed;
    try {
      if ((await subject.probe()) !== false) return performance.now() - since;
    } catch {
      // Not yet.
    }
    await sleep(100);
  }
}

/** A server a restart suite can stop and start (see `startPrivatePostgres`). */
export interface RestartableServer {
  readonly url: string;
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link restartScenario}. */
export interface RestartScenarioOptions {
  /** Names the suite's test. */
  readonly server: string;
  /** Starts the private server (called once). */
  readonly start: () => Promise<RestartableServer>;
  /** The adapters, all under load at once through the restarts. */
  readonly adapters: readonly FaultAdapter[];
  /** How many times the server is restarted. @defaultValue 2 */
  readonly restarts?: number;
  /** How long it stays down each time, in ms. @defaultValue 2_000 */
  readonly downMs?: number;
  /** @defaultValue 15_000 */
  readonly recoveryBoundMs?: number;
  /** @defaultValue 2_000 */
  readonly slackMs?: number;
}

/**
 * Registers one test that runs every adapter under steady load against a private server, restarts
 * the server for real (stop, wait, start on the same data and port) `restarts` times, and asserts
 * for each adapter what {@link faultScenarios} asserts after a fault. Prints one line per adapter:
 * `[restart-summary] <adapter>: restarts=2 longestRecoveryMs=… typedFailures=… crashed=0 lost=0 doubled=0`.
 */
export function restartScenario(options: RestartScenarioOptions): void {
  const restarts = options.restarts ?? 2;
  const downMs = options.downMs ?? 2_000;
  const recoveryBoundMs = options.recoveryBoundMs ?? 15_000;
  const slackMs = options.slackMs ?? 2_000;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);
  let server: RestartableServer;
  const subjects: FaultSubject[] = [];

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    server = await options.start();
    for (const adapter of options.adapters) subjects.push(await adapter.subject(server.url));
  });

  afterAll(async () => {
    for (const subject of subjects) await subject.close().catch(() => {});
    await server?.close();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  });

  it(`${options.adapters.map((adapter) => adapter.adapter).join(', ')}: ${options.server} restarted ${restarts} times under steady load — no crash, typed errors within the bound, each recovers, books balance`, async () => {
    const loads = options.adapters.map(
      (adapter, index) => new SteadyLoad(subjects[index] as FaultSubject, adapter.callTimeoutMs + slackMs),
    );
    for (const load of loads) load.start(2);
    await sleep(500);
    const longest = options.adapters.map(() => 0);
    for (let restart = 0; restart < restarts; restart++) {
      await server.restart(downMs);
      const backAt = performance.now();
      const recovered = await Promise.all(subjects.map((subject) => recoveredAfter(subject, backAt, recoveryBoundMs)));
      recovered.forEach((ms, index) => {
        longest[index] = Math.max(longest[index] ?? 0, ms);
      });
      await sleep(500);
    }
    await Promise.all(loads.map((load) => load.stop()));
    const books = await Promise.all(subjects.map((subject) => subject.checkBooks()));
    options.adapters.forEach((adapter, index) => {
      const load = loads[index] as SteadyLoad;
      const book = books[index] as Books;
      console.log(
        `[restart-summary] ${adapter.adapter}: restarts=${restarts} (down ${downMs} ms each) ` +
          `longestRecoveryMs=${Math.round(longest[index] ?? 0)} (bound ${recoveryBoundMs}) ` +
          `calls=${load.succeeded + load.typedFailures} typedFailures=${load.typedFailures} untyped=${load.untyped.length} ` +
          `hangs=${load.hangs} crashed=${crashes.length} lost=${book.lost} doubled=${book.doubled ?? 'n/a'} ` +
          `repeated(at-least-once)=${book.repeated ?? 0} ${book.detail ?? ''}`,
      );
    });
    expect(crashes).toEqual([]);
    options.adapters.forEach((adapter, index) => {
      const load = loads[index] as SteadyLoad;
      const book = books[index] as Books;
      expect({ adapter: adapter.adapter, untyped: load.untyped, hangs: load.hangs, lost: book.lost }).toEqual({
        adapter: adapter.adapter,
        untyped: [],
        hangs: 0,
        lost: 0,
      });
      if (book.doubled !== undefined)
        expect({ adapter: adapter.adapter, doubled: book.doubled }).toEqual({ adapter: adapter.adapter, doubled: 0 });
      expect(longest[index]).toBeLessThan(recoveryBoundMs);
      expect(load.succeeded).toBeGreaterThan(0);
    });
  });
}

/**
 * Registers one test per fault of issue #15 for one adapter, plus the summary line:
 * `[fault-summary] <adapter>: faults=5 longestRecoveryMs=… typedFailures=… crashed=0 lost=0 doubled=0`.
 *
 * Each fault runs under the steady load. Asserted after each: no `uncaughtException` or
 * `unhandledRejection` in the process; every failed call failed with the adapter's typed error;
 * no call outlived `callTimeoutMs` (+ slack); the adapter works again within `recoveryBoundMs`
 * of the server coming back, with the same client; the books balance (nothing lost or doubled).
 */
export function faultScenarios(options: FaultScenarioOptions): void {
  const slackMs = options.slackMs ?? 2_000;
  const recoveryBoundMs = options.recoveryBoundMs ?? 15_000;
  const concurrency = options.concurrency ?? 4;
  const callBoundMs = options.callTimeoutMs + slackMs;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);
  let proxy: FaultProxy;
  let subject: FaultSubject;
  const totals = { typedFailures: 0, succeeded: 0, longestRecoveryMs: 0, lost: 0, doubled: 0, repeated: 0, faults: 0 };
  let detail = '';

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    proxy = await options.proxy();
    subject = await options.subject(proxy);
  });

  afterAll(async () => {
    await subject?.close();
    await proxy?.close();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    console.log(
      `[fault-summary] ${options.adapter}: faults=${totals.faults}/${faultNames.length} ` +
        `longestRecoveryMs=${Math.round(totals.longestRecoveryMs)} (bound ${recoveryBoundMs}) ` +
        `calls=${totals.succeeded + totals.typedFailures} typedFailures=${totals.typedFailures} ` +
        `crashed=${crashes.length} lost=${totals.lost} doubled=${totals.doubled} ` +
        `repeated(at-least-once)=${totals.repeated} ${detail}` +
        (subject?.notes ? ` ${subject.notes()}` : ''),
    );
  });

  const recovery = (since: number) => recoveredAfter(subject, since, recoveryBoundMs);

  const scenario = (name: (typeof faultNames)[number], fault: (load: SteadyLoad) => Promise<void>) =>
    it(`${options.adapter}: ${name} under steady load — no crash, typed errors within the bound, recovers, books balance`, async () => {
      const load = new SteadyLoad(subject, callBoundMs);
      load.start(concurrency);
      await sleep(300);
      await fault(load);
      const healedAt = performance.now();
      const recoveredInMs = await recovery(healedAt);
      await sleep(300);
      await load.stop();
      const books = await subject.checkBooks();
      detail = books.detail ?? '';
      totals.faults += 1;
      totals.typedFailures += load.typedFailures;
      totals.succeeded += load.succeeded;
      totals.longestRecoveryMs = Math.max(totals.longestRecoveryMs, recoveredInMs);
      totals.lost += books.lost;
      totals.doubled += books.doubled ?? 0;
      totals.repeated = Math.max(totals.repeated, books.repeated ?? 0);
      console.log(
        `[fault] ${options.adapter} / ${name}: recovered in ${Math.round(recoveredInMs)} ms; ` +
          `${load.succeeded} calls ok, ${load.typedFailures} typed failures, ${load.untyped.length} untyped, ` +
          `${load.hangs} over ${callBoundMs} ms; lost ${books.lost}, doubled ${books.doubled}, ` +
          `repeated ${books.repeated ?? 0} ${books.detail ?? ''}`,
      );
      expect(crashes).toEqual([]);
      expect(load.untyped).toEqual([]);
      expect(load.hangs).toBe(0);
      expect(recoveredInMs).toBeLessThan(recoveryBoundMs);
      expect(load.succeeded).toBeGreaterThan(0);
      expect(books.lost).toBe(0);
      if (books.doubled !== undefined) expect(books.doubled).toBe(0);
    });

  scenario('cut mid-call', async () => {
    // Latency keeps calls on the wire when the cut lands.
    proxy.latency(100);
    await sleep(400);
    proxy.cutAll();
    await proxy.heal();
  });

  scenario('cut while idle or held', async (load) => {
    // Nothing in flight: pooled connections are idle, a LISTEN connection is held.
    await load.stop();
    await sleep(200);
    proxy.cutAll();
    load.start(concurrency);
    await sleep(300);
  });

  scenario('down 5 s', async () => {
    proxy.down();
    await sleep(5_000);
    await proxy.heal();
  });

  scenario('blackhole 10 s', async () => {
    proxy.blackhole();
    await sleep(10_000);
    await proxy.heal();
  });

  scenario('latency 200 ms', async (load) => {
    const before = load.succeeded;
    proxy.latency(200);
    await sleep(3_000);
    await proxy.heal();
    // A slow server is not a failure: calls went on succeeding.
    expect(load.succeeded).toBeGreaterThan(before);
  });

  if (options.reportsHealth)
    it(`${options.adapter}: said so in its health report while degraded, and is up again`, async () => {
      // Up again within the recovery bound: a LISTEN connection may still be in its reconnect backoff.
      await expect
        .poll(() => subject.health?.(), { timeout: recoveryBoundMs, interval: 100 })
        .toEqual({ degradedSeen: true, status: 'up' });
    });
}
