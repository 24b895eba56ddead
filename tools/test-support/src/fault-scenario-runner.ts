// The one engine of the network-fault suites: runs faults against one adapter under a steady load
// and measures what issue #15 asks for: every call settles (never hangs), failures are typed, the
// adapter recovers by itself after each heal, and the process sees no unhandled `error` event or
// rejection. What the adapter must not lose or double is checked by the test itself after the run
// (it knows what was committed or acked). `faultScenarios` and `restartScenario` are layers over it.
import {
  type CustomFault,
  defaultFaultDurations,
  type FaultDurations,
  type FaultName,
  faultLabel,
  faultNames,
  injectFault,
} from './fault-injection.js';
import type { FaultProxy } from './fault-proxy.js';
import { watchProcessErrors } from './process-error-watch.js';
import { pollRecovery } from './recovery-poll.js';
import { type CallTally, SteadyLoad } from './steady-load.js';

/** Options of one engine run, {@link runFaultScenarios}: one adapter's load, probe and bounds, and the faults. */
export interface FaultRunOptions {
  /** Names the adapter in the summary line. */
  readonly name: string;
  /** The proxy in front of the adapter's server (needed by every fault but custom ones). */
  readonly proxy?: FaultProxy;
  /** One call of the steady load (the driver runs `concurrency` loops of it). */
  readonly load: () => Promise<unknown>;
  /**
   * A call that succeeds once the adapter works again, polled after each heal; it resolves `false`
   * (or fails) while the adapter does not. @defaultValue `load`
   */
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

/** What happened during one fault, from its start until the adapter recovered and its calls settled. */
export interface FaultResult extends Readonly<CallTally> {
  /** The fault's label, e.g. `down 5s`, or a custom fault's name. */
  readonly fault: string;
  /** From the heal (or the cut) to the first successful check; `undefined` when it never recovered. */
  readonly recoveryMs: number | undefined;
}

/** What one engine run, {@link runFaultScenarios}, found. */
export interface FaultRunReport {
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

/** The rules one fault's result must keep, as problems (empty when it kept them all). */
function faultProblems(
  label: string,
  result: FaultResult,
  options: FaultRunOptions,
  hangLimitMs: number,
  succeededWhileSlow: number | undefined,
): string[] {
  const problems: string[] = [];
  if (result.recoveryMs === undefined) problems.push(`${label}: did not recover`);
  else if (result.recoveryMs >= options.recoverWithinMs)
    problems.push(`${label}: recovered after ${Math.round(result.recoveryMs)} ms, over ${options.recoverWithinMs} ms`);
  if (result.hung > 0) problems.push(`${label}: ${result.hung} call(s) did not settle within ${hangLimitMs} ms`);
  if (result.untypedFailureCount > 0)
    problems.push(
      `${label}: ${result.untypedFailureCount} untyped failure(s), e.g. ${result.untypedFailures.map(String).join(' | ')}`,
    );
  if (result.loadSucceeded === 0) problems.push(`${label}: no call of the load succeeded`);
  // A slow server is not a failed one: calls go on succeeding.
  if (succeededWhileSlow === 0) problems.push(`${label}: no call succeeded while the server was only slow`);
  return problems;
}

/**
 * Runs each fault in turn against the adapter under load (see `injectFault` for what each does),
 * and after each waits for `check` to succeed again and for the calls made during the fault to
 * settle. The adapter must work before the first fault.
 *
 * @example
 * ```ts
 * const report = await runFaultScenarios({ name: 'redis rate limit', proxy, load, callTimeoutMs: 500,
 *   recoverWithinMs: 5_000, isTypedError: (error) => error instanceof RateLimitStoreError });
 * expect(report.problems).toEqual([]);
 * console.log(report.summary());
 * ```
 */
export async function runFaultScenarios(options: FaultRunOptions): Promise<FaultRunReport> {
  const durations: FaultDurations = { ...defaultFaultDurations, ...options.durations };
  const faults = options.faults ?? faultNames;
  if (!options.proxy && faults.some((fault) => typeof fault === 'string'))
    throw new Error('runFaultScenarios: a proxy is needed for the built-in faults');
  const check = options.check ?? options.load;
  const hangLimitMs = options.callTimeoutMs + (options.slackMs ?? 2_000);
  const load = new SteadyLoad({
    call: options.load,
    isTypedError: options.isTypedError,
    hangLimitMs,
    pauseMs: options.pauseMs ?? 10,
  });

  const watch = watchProcessErrors();
  const results: FaultResult[] = [];
  const problems: string[] = [];
  load.start(options.concurrency ?? 4);
  try {
    // Steady state first: the adapter must work before anything is broken.
    if ((await pollRecovery(load, check, options.recoverWithinMs)) === undefined)
      problems.push(`${options.name}: never worked before any fault`);
    for (const fault of faults) {
      const succeededBefore = load.loadSucceeded;
      await injectFault(fault, options.proxy, durations, load);
      const succeededWhileSlow = fault === 'latency' ? load.loadSucceeded - succeededBefore : undefined;
      const recoveryMs = await pollRecovery(load, check, options.recoverWithinMs);
      // Calls that started during the fault settle (or are counted as hung) before the next one.
      await load.settle();
      await sleep(300);
      const label = faultLabel(fault, durations);
      const result: FaultResult = { fault: label, ...load.takeTally(), recoveryMs };
      results.push(result);
      problems.push(...faultProblems(`${options.name} / ${label}`, result, options, hangLimitMs, succeededWhileSlow));
    }
  } finally {
    await options.proxy?.heal();
    await load.stop();
    watch.stop();
  }
  if (watch.errors.length > 0)
    problems.push(
      `${options.name}: ${watch.errors.length} unhandled error(s): ${watch.errors.map(String).join(' | ')}`,
    );

  const longestRecoveryMs = Math.max(0, ...results.map((result) => result.recoveryMs ?? Number.POSITIVE_INFINITY));
  return {
    name: options.name,
    results,
    processErrors: watch.errors,
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
        'processes crashed': watch.errors.length,
        ...extra,
      };
      return `[faults] ${options.name}: ${Object.entries(fields)
        .map(([key, value]) => `${key}=${value}`)
        .join('; ')}`;
    },
  };
}
