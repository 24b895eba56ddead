// The fault suites of the server-backed adapters, as vitest tests: the adapter's test gives a
// steady load, a probe and a way to check the books; each fault of issue #15 is one test, run by
// the one engine (`runFaultScenarios`), after which the books must balance.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FaultName } from './fault-injection.js';
import { type FaultProxy, faultProxy } from './fault-proxy.js';
import { type FaultRunOptions, type FaultRunReport, runFaultScenarios } from './fault-scenario-runner.js';
import { type ProcessErrorWatch, watchProcessErrors } from './process-error-watch.js';

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
   * publish and see it delivered). Rejects or returns false while it does not; settles within
   * the adapter's `callTimeoutMs` (plus slack), like a call.
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

/** Options of {@link faultScenarios}, which registers an adapter's fault suite as vitest tests. */
export interface FaultSuiteOptions {
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

/** The engine's options for `subject` under the driver's bounds, without the faults. */
export function runOptionsFor(
  name: string,
  subject: FaultSubject,
  bounds: { readonly callTimeoutMs: number; readonly recoverWithinMs: number; readonly slackMs: number },
): FaultRunOptions {
  return {
    name,
    load: () => subject.call(),
    // A probe's failure means "not yet", whatever its type: it may reach past the adapter.
    check: () => subject.probe().catch(() => false),
    isTypedError: (error) => subject.isTypedError(error),
    ...bounds,
  };
}

/** The faults, by the titles of their tests. */
const titledFaults: readonly (readonly [title: string, fault: FaultName])[] = [
  ['cut mid-call', 'cut-mid-call'],
  ['cut while idle or held', 'cut-idle'],
  ['down 5 s', 'down'],
  ['blackhole 10 s', 'blackhole'],
  ['latency 200 ms', 'latency'],
];

/**
 * Registers one test per fault of issue #15 for one adapter, plus the summary line:
 * `[fault-summary] <adapter>: faults=5/5 longestRecoveryMs=… typedFailures=… crashed=0 lost=0 doubled=0`.
 *
 * Each fault runs under the steady load (see `runFaultScenarios` for what is measured). Asserted
 * after each: no `uncaughtException` or `unhandledRejection` in the process since the suite
 * began; no problem in the engine's report (failures typed, no call outlived `callTimeoutMs` +
 * slack, load calls succeeded, and during the latency too, the adapter worked again within
 * `recoveryBoundMs` of the heal with the same client); the books balance (nothing lost or doubled).
 */
export function faultScenarios(options: FaultSuiteOptions): void {
  const recoveryBoundMs = options.recoveryBoundMs ?? 15_000;
  const bounds = {
    callTimeoutMs: options.callTimeoutMs,
    recoverWithinMs: recoveryBoundMs,
    slackMs: options.slackMs ?? 2_000,
  };
  let watch: ProcessErrorWatch;
  let proxy: FaultProxy;
  let subject: FaultSubject;
  const runs: { readonly report: FaultRunReport; readonly books: Books }[] = [];

  beforeAll(async () => {
    watch = watchProcessErrors();
    proxy = await options.proxy();
    subject = await options.subject(proxy);
  });

  afterAll(async () => {
    await subject?.close();
    await proxy?.close();
    watch?.stop();
    const results = runs.flatMap((run) => run.report.results);
    const total = (pick: (books: Books) => number) => runs.reduce((sum, run) => sum + pick(run.books), 0);
    console.log(
      `[fault-summary] ${options.adapter}: faults=${runs.length}/${titledFaults.length} ` +
        `longestRecoveryMs=${Math.round(Math.max(0, ...runs.map((run) => run.report.longestRecoveryMs)))} (bound ${recoveryBoundMs}) ` +
        `calls=${results.reduce((sum, result) => sum + result.calls, 0)} ` +
        `typedFailures=${results.reduce((sum, result) => sum + result.typedFailures, 0)} ` +
        `crashed=${watch?.errors.length} lost=${total((books) => books.lost)} doubled=${total((books) => books.doubled ?? 0)} ` +
        `repeated(at-least-once)=${Math.max(0, ...runs.map((run) => run.books.repeated ?? 0))} ${runs.at(-1)?.books.detail ?? ''}` +
        (subject?.notes ? ` ${subject.notes()}` : ''),
    );
  });

  for (const [title, fault] of titledFaults)
    it(`${options.adapter}: ${title} under steady load — no crash, typed errors within the bound, recovers, books balance`, async () => {
      const report = await runFaultScenarios({
        ...runOptionsFor(options.adapter, subject, bounds),
        proxy,
        faults: [fault],
        durations: { latencyForMs: 3_000 },
        concurrency: options.concurrency,
      });
      const books = await subject.checkBooks();
      runs.push({ report, books });
      console.log(
        report.summary({
          lost: books.lost,
          doubled: books.doubled ?? 'n/a',
          'repeated (at-least-once)': books.repeated ?? 0,
          books: books.detail ?? '',
        }),
      );
      expect(watch.errors).toEqual([]);
      expect(report.problems).toEqual([]);
      expect(books.lost).toBe(0);
      if (books.doubled !== undefined) expect(books.doubled).toBe(0);
    });

  if (options.reportsHealth)
    it(`${options.adapter}: said so in its health report while degraded, and is up again`, async () => {
      // Up again within the recovery bound: a LISTEN connection may still be in its reconnect backoff.
      await expect
        .poll(() => subject.health?.(), { timeout: recoveryBoundMs, interval: 100 })
        .toEqual({ degradedSeen: true, status: 'up' });
    });
}
