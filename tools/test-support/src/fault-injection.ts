// The faults of issue #15, injected through a fault proxy in front of the adapter's server, and
// the test's own faults (a real server restart). Each one breaks something and heals it before
// it resolves; recovery is measured from then.
import type { FaultProxy } from './fault-proxy.js';
import type { SteadyLoad } from './steady-load.js';

/** The faults of the issue, in the order they run by default. */
export type FaultName = 'cut-mid-call' | 'cut-idle' | 'down' | 'blackhole' | 'latency';

/** Every {@link FaultName}, in the order they run by default. */
export const faultNames: readonly FaultName[] = ['cut-mid-call', 'cut-idle', 'down', 'blackhole', 'latency'];

/** A fault of the test's own, e.g. a real server restart: `inject` breaks something and heals it before it resolves. */
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

/** The durations of issue #15. */
export const defaultFaultDurations: FaultDurations = {
  downMs: 5_000,
  blackholeMs: 10_000,
  latencyMs: 200,
  latencyForMs: 2_000,
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The fault's label in results and problems, e.g. `down 5s`, or a custom fault's name. */
export function faultLabel(fault: FaultName | CustomFault, durations: FaultDurations): string {
  if (typeof fault === 'object') return fault.name;
  if (fault === 'down') return `down ${durations.downMs / 1_000}s`;
  if (fault === 'blackhole') return `blackhole ${durations.blackholeMs / 1_000}s`;
  if (fault === 'latency') return `latency ${durations.latencyMs}ms`;
  return fault;
}

/**
 * Breaks and heals: `cut-mid-call` destroys every live connection while calls are on the wire
 * (slowed first so that some are); `cut-idle` does the same with no call running (pooled
 * connections idle, a LISTEN or blocking connection held); `down` refuses connections for
 * `downMs`; `blackhole` makes the server silent for `blackholeMs`; `latency` adds `latencyMs`
 * each way for `latencyForMs`.
 */
export async function injectFault(
  fault: FaultName | CustomFault,
  proxy: FaultProxy | undefined,
  durations: FaultDurations,
  load: SteadyLoad,
): Promise<void> {
  if (typeof fault === 'object') return fault.inject();
  if (!proxy) throw new Error(`injectFault: the fault '${fault}' needs a fault proxy`);
  switch (fault) {
    case 'cut-mid-call':
      proxy.latency(100);
      await sleep(400);
      proxy.cutAll();
      break;
    case 'cut-idle':
      await load.pause();
      await sleep(200);
      proxy.cutAll();
      load.resume();
      return;
    case 'down':
      proxy.down();
      await sleep(durations.downMs);
      break;
    case 'blackhole':
      proxy.blackhole();
      await sleep(durations.blackholeMs);
      break;
    case 'latency':
      proxy.latency(durations.latencyMs);
      await sleep(durations.latencyForMs);
      break;
  }
  await proxy.heal();
}
