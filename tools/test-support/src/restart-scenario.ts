// The restart suite: every adapter of a server under steady load at once while a private server
// is restarted for real, each adapter measured by the one engine (`runFaultScenarios`).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CustomFault } from './fault-injection.js';
import { runFaultScenarios } from './fault-scenario-runner.js';
import { type FaultAdapter, type FaultSubject, runOptionsFor } from './fault-scenarios.js';
import { type ProcessErrorWatch, watchProcessErrors } from './process-error-watch.js';

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
 * Faults shared by `runs` engine runs going at once: each is injected once, when every run has
 * reached it, so that no run is still recovering from the one before while the server goes down.
 */
function sharedFaults(runs: number, faults: readonly CustomFault[]): CustomFault[] {
  return faults.map((fault) => {
    let arrived = 0;
    let release: () => void = () => {};
    const everyoneArrived = new Promise<void>((resolve) => {
      release = resolve;
    });
    const injected = everyoneArrived.then(() => fault.inject());
    injected.catch(() => {}); // awaited by every run below; this only keeps an early failure handled
    return {
      name: fault.name,
      inject() {
        arrived += 1;
        if (arrived === runs) release();
        return injected;
      },
    };
  });
}

/**
 * Registers one test that runs every adapter under steady load against a private server, restarts
 * the server for real (stop, wait, start on the same data and port) `restarts` times, and asserts
 * for each adapter what `faultScenarios` asserts after a fault. Prints the engine's summary line per
 * adapter: `[faults] <adapter>: faults=restart 1 (down 2000 ms), restart 2 …; longest recovery ms=…; … lost=0; doubled=0`.
 */
export function restartScenario(options: RestartScenarioOptions): void {
  const restarts = options.restarts ?? 2;
  const downMs = options.downMs ?? 2_000;
  const recoveryBoundMs = options.recoveryBoundMs ?? 15_000;
  const slackMs = options.slackMs ?? 2_000;
  let watch: ProcessErrorWatch;
  let server: RestartableServer;
  const subjects: FaultSubject[] = [];

  beforeAll(async () => {
    watch = watchProcessErrors();
    server = await options.start();
    for (const adapter of options.adapters) subjects.push(await adapter.subject(server.url));
  });

  afterAll(async () => {
    for (const subject of subjects) await subject.close().catch(() => {});
    await server?.close();
    watch?.stop();
  });

  it(`${options.adapters.map((adapter) => adapter.adapter).join(', ')}: ${options.server} restarted ${restarts} times under steady load — no crash, typed errors within the bound, each recovers, books balance`, async () => {
    const faults = sharedFaults(
      options.adapters.length,
      Array.from({ length: restarts }, (_, index) => ({
        name: `restart ${index + 1} (down ${downMs} ms)`,
        inject: () => server.restart(downMs),
      })),
    );
    const reports = await Promise.all(
      options.adapters.map((adapter, index) =>
        runFaultScenarios({
          ...runOptionsFor(adapter.adapter, subjects[index] as FaultSubject, {
            callTimeoutMs: adapter.callTimeoutMs,
            recoverWithinMs: recoveryBoundMs,
            slackMs,
          }),
          faults,
          concurrency: 2,
        }),
      ),
    );
    const books = await Promise.all(subjects.map((subject) => subject.checkBooks()));
    reports.forEach((report, index) => {
      const book = books[index];
      console.log(
        report.summary({
          lost: book?.lost ?? 'n/a',
          doubled: book?.doubled ?? 'n/a',
          'repeated (at-least-once)': book?.repeated ?? 0,
          books: book?.detail ?? '',
        }),
      );
    });
    expect(watch.errors).toEqual([]);
    options.adapters.forEach((adapter, index) => {
      const book = books[index];
      expect({ adapter: adapter.adapter, problems: reports[index]?.problems, lost: book?.lost }).toEqual({
        adapter: adapter.adapter,
        problems: [],
        lost: 0,
      });
      if (book?.doubled !== undefined)
        expect({ adapter: adapter.adapter, doubled: book.doubled }).toEqual({ adapter: adapter.adapter, doubled: 0 });
    });
  });
}
