// Runs the standard network faults against one adapter under a steady load, through a fault proxy
// in front of its server, and measures what the issue asks for: every call settles (never hangs),
// failures are typed, the adapter recovers by itself after each heal, and the process sees no
// unhandled `error` event or rejection. What the adapter must not lose or double is checked by
// the test itself after the run (it knows what was committed or acked).
import type { FaultProxy } from './fault-proxy.js';

/** The faults of the issue, in the order they run by default. */
export type FaultName = 'cut-mid-call' | 'cut-idle' | 'down' | 'blackhole' | 'latency';

/**
 * A fault of the test's own, e.g. a real server restart: `inject` breaks something and heals it
 * before it resolves; recovery is measured from then, like the proxy's faults.
 */
export interface CustomFault {
  readonly name: string;
  inject(): Promise<void>;
}

/** How long each fault lasts. */
export interface FaultDurations {
  /** Server refusing connections (proxy down). @defaultValue 5_000 */
  readonly downMs: number;
  /** Server silent (proxy blackhole). @defaultValue 10_000 */
  readonly blackholeMs: number;
  /** Added latency per chunk, each way. @defaultValue 200 */
  readonly latencyMs: number;
  /** How long the latency lasts. @defaultValue 2_000 */
  readonly latencyForMs: number;
}

const defaultDurations: FaultDurations = { downMs: 5_000, blackholeMs: 10_000, latencyMs: 200, latencyForMs: 2_000 };

export interface FaultScenariosOptions {
  /** Names the adapter in the summary line. */
  readonly name: string;
  /** The proxy in front of the adapter's server (needed by every fault but custom ones). */
  readonly proxy?: FaultProxy;
  /** One call of the steady load (the driver runs `concurrency` loops of it). */
  readonly load: () => Promise<unknown>;
  /** A call that succeeds once the adapter works again, polled after each heal. @defaultValue `load` */
  readonly check?: () => Promise<unknown>;
  /** The adapter's configured timeout: every call must settle within it (plus `slackMs`). */
  readonly callTimeoutMs: number;
  /** Longest time from a heal (or a cut) to the first successful `check`. */
  readonly recoverWithinMs: number;
  /** Which errors count as typed (the adapter's error classes). */
  readonly isTypedError: (error: unknown) => boolean;
  /** @defaultValue every {@link FaultName}, in its order */
  readonly faults?: readonly (FaultName | CustomFault)[];
  readonly durations?: Partial<FaultDurations>;
  /** Loops of `load` running at once. @defaultValue 4 */
  readonly concurrency?: number;
  /** Pause between two calls of one loop, so fast failures do not spin. @defaultValue 10 */
  readonly pauseMs?: number;
  /** Allowance over `callTimeoutMs` for a loaded machine before a call counts as hung. @defaultValue 2_000 */
  readonly slackMs?: number;
}

/** What happened during one fault, from its start until the adapter recovered. */
export interface FaultResult {
  /** The fault's label, e.g. `down 5s`, or a custom fault's name. */
  readonly fault: string;
  readonly calls: number;
  readonly succeeded: number;
  readonly typedFailures: number;
  /** Failures that were not typed errors (at most 5 kept). */
  readonly untypedFailures: unknown[];
  readonly untypedFailureCount: number;
  /** Calls that had not settled within `callTimeoutMs + slackMs`. */
  readonly hung: number;
  readonly longestCallMs: number;
  /** From the heal (or the cut) to the first successful check; `undefined` when it never recovered. */
  readonly recoveryMs: number | undefined;
}

export interface FaultScenariosReport {
  readonly name: string;
  readonly results: readonly FaultResult[];
  /** Unhandled rejections and uncaught exceptions seen by the process during the run. */
  readonly processErrors: readonly unknown[];
  readonly longestRecoveryMs: number;
  /** Every way the run broke a rule; empty when the adapter passed. */
  readonly problems: readonly string[];
  /** One line for the issue note; `extra` adds the test's own figures (messages lost, doubled). */
  summary(extra?: Record<string, number | string>): string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const faultLabel = (fault: FaultName | CustomFault, durations: FaultDurations) =>
  typeof fault === 'object'
    ? fault.name
    : fault === 'down'
      ? `down ${durations.downMs / 1_000}s`
      : fault === 'blackhole'
        ? `blackhole ${durations.blackholeMs / 1_000}s`
        : fault === 'latency'
          ? `latency ${durations.latencyMs}ms`
          : fault;

/**
 * Runs each fault in turn against the adapter under load (`cut-mid-call`: every live connection
 * destroyed while calls run; `cut-idle`: the same with no call running; `down`: connections
 * refused for `downMs`; `blackhole`: the server silent for `blackholeMs`; `latency`: `latencyMs`
 * each way for `latencyForMs`), heals, and waits for `check` to succeed again.
 *
 * @example
 * ```ts
 * const report = await runFaultScenarios({ name: 'redis rate limit', proxy, load, callTimeoutMs: 500,
 *   recoverWithinMs: 5_000, isTypedError: (error) => error instanceof RateLimitStoreError });
 * expect(report.problems).toEqual([]);
 * console.log(report.summary());
 * ```
 */
export async function runFaultScenarios(options: FaultScenariosOptions): Promise<FaultScenariosReport> {
  const durations: FaultDurations = { ...defaultDurations, ...options.durations };
  const faults = options.faults ?? (['cut-mid-call', 'cut-idle', 'down', 'blackhole', 'latency'] as const);
  const proxy = options.proxy as FaultProxy;
  if (!options.proxy && faults.some((fault) => typeof fault === 'string'))
    throw new Error('runFaultScenarios: a proxy is needed for the built-in faults');
  const concurrency = options.concurrency ?? 4;
  const pauseMs = options.pauseMs ?? 10;
  const slackMs = options.slackMs ?? 2_000;
  const check = options.check ?? options.load;

  const processErrors: unknown[] = [];
  const onProcessError = (error: unknown) => processErrors.push(error);
  process.on('unhandledRejection', onProcessError);
  process.on('uncaughtException', onProcessError);

  interface Tally {
    calls: number;
    succeeded: number;
    typedFailures: number;
    untypedFailures: unknown[];
    untypedFailureCount: number;
    hung: number;
    longestCallMs: number;
  }
  const newTally = (): Tally => ({
    calls: 0,
    succeeded: 0,
    typedFailures: 0,
    untypedFailures: [],
    untypedFailureCount: 0,
    hung: 0,
    longestCallMs: 0,
  });
  let tally = newTally();
  let stopped = false;
  let paused = false;
  /** Start times of the load calls running now. */
  const running = new Set<{ readonly startedAt: number }>();
  const hangLimitMs = options.callTimeoutMs + slackMs;

  /**
   * One call, timed. A call still running past the hang limit counts as hung and is left behind
   * (its late outcome ignored), so that a hanging adapter fails the run instead of stalling it.
   */
  const timedCall = async (call: () => Promise<unknown>, into: Tally): Promise<boolean> => {
    const startedAt = performance.now();
    let hungTimer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      hungTimer = setTimeout(() => resolve('hung'), hangLimitMs);
    });
    const running = (async () => call())();
    running.catch(() => {}); // a hung call's late rejection is not the process's concern
    try {
      if ((await Promise.race([running, hung])) === 'hung') {
        into.hung += 1;
        return false;
      }
      into.succeeded += 1;
      return true;
    } catch (error) {
      if (options.isTypedError(error)) into.typedFailures += 1;
      else {
        into.untypedFailureCount += 1;
        if (into.untypedFailures.length < 5) into.untypedFailures.push(error);
      }
      return false;
    } finally {
      clearTimeout(hungTimer);
      into.calls += 1;
      into.longestCallMs = Math.max(into.longestCallMs, performance.now() - startedAt);
    }
  };

  const loop = async () => {
    while (!stopped) {
      if (paused) {
        await sleep(20);
        continue;
      }
      const call = { startedAt: performance.now() };
      running.add(call);
      await timedCall(options.load, tally);
      running.delete(call);
      await sleep(pauseMs);
    }
  };

  /** Polls `check` from now until it succeeds; the time it took, or undefined past twice the bound. */
  const recovery = async (into: Tally): Promise<number | undefined> => {
    const startedAt = performance.now();
    const giveUpAt = startedAt + options.recoverWithinMs * 2 + hangLimitMs;
    while (performance.now() < giveUpAt) {
      if (await timedCall(check, into)) return performance.now() - startedAt;
      await sleep(50);
    }
    return undefined;
  };

  const results: FaultResult[] = [];
  const problems: string[] = [];
  const loops = Array.from({ length: concurrency }, loop);
  try {
    // Steady state first: the adapter must work before anything is broken.
    const warm = newTally();
    if ((await recovery(warm)) === undefined) problems.push(`${options.name}: never worked before any fault`);
    for (const fault of faults) {
      tally = newTally();
      if (typeof fault === 'object') await fault.inject();
      else
        switch (fault) {
          case 'cut-mid-call':
            proxy.cutAll();
            break;
          case 'cut-idle': {
            paused = true;
            while (running.size > 0) await sleep(10);
            await sleep(200);
            proxy.cutAll();
            paused = false;
            break;
          }
          case 'down':
            proxy.down();
            await sleep(durations.downMs);
            await proxy.heal();
            break;
          case 'blackhole':
            proxy.blackhole();
            await sleep(durations.blackholeMs);
            await proxy.heal();
            break;
          case 'latency':
            proxy.latency(durations.latencyMs);
            await sleep(durations.latencyForMs);
            await proxy.heal();
            break;
        }
      const recoveredAfter = await recovery(tally);
      // Calls that started during the fault settle (or are counted as hung) before the next one.
      const recoveredAt = performance.now();
      while ([...running].some((call) => call.startedAt < recoveredAt) && performance.now() < recoveredAt + hangLimitMs)
        await sleep(20);
      await sleep(300);
      const result: FaultResult = { fault: faultLabel(fault, durations), ...tally, recoveryMs: recoveredAfter };
      results.push(result);
      const label = `${options.name} / ${faultLabel(fault, durations)}`;
      if (recoveredAfter === undefined) problems.push(`${label}: did not recover`);
      else if (recoveredAfter > options.recoverWithinMs)
        problems.push(`${label}: recovered after ${Math.round(recoveredAfter)} ms, over ${options.recoverWithinMs} ms`);
      if (result.hung > 0) problems.push(`${label}: ${result.hung} call(s) did not settle within ${hangLimitMs} ms`);
      if (result.untypedFailureCount > 0)
        problems.push(
          `${label}: ${result.untypedFailureCount} untyped failure(s), e.g. ${result.untypedFailures.map(String).join(' | ')}`,
        );
    }
  } finally {
    stopped = true;
    await options.proxy?.heal();
    await Promise.all(loops);
    process.off('unhandledRejection', onProcessError);
    process.off('uncaughtException', onProcessError);
  }
  if (processErrors.length > 0)
    problems.push(
      `${options.name}: ${processErrors.length} unhandled error(s): ${processErrors.map(String).join(' | ')}`,
    );

  const longestRecoveryMs = Math.max(0, ...results.map((result) => result.recoveryMs ?? Number.POSITIVE_INFINITY));
  return {
    name: options.name,
    results,
    processErrors,
    longestRecoveryMs,
    problems,
    summary(extra = {}) {
      const sum = (pick: (result: FaultResult) => number) => results.reduce((total, result) => total + pick(result), 0);
      const slowest = results.reduce<FaultResult | undefined>(
        (worst, result) => (worst && (worst.recoveryMs ?? 0) >= (result.recoveryMs ?? 0) ? worst : result),
        undefined,
      );
      const fields: Record<string, number | string> = {
        faults: results.map((result) => result.fault).join(', '),
        'longest recovery ms': `${Math.round(longestRecoveryMs)}${slowest ? ` (${slowest.fault})` : ''}`,
        calls: sum((result) => result.calls),
        'failed typed': sum((result) => result.typedFailures),
        'failed untyped': sum((result) => result.untypedFailureCount),
        hung: sum((result) => result.hung),
        'longest call ms': Math.round(Math.max(0, ...results.map((result) => result.longestCallMs))),
        'processes crashed': processErrors.length,
        ...extra,
      };
      return `[faults] ${options.name}: ${Object.entries(fields)
        .map(([key, value]) => `${key}=${value}`)
        .join('; ')}`;
    },
  };
}
