import type { AcquireProbeOptions, CircuitStateStore, SharedCircuitState } from './circuit-state-store.js';

/** Options of {@link memoryCircuitStateStore}. */
export interface MemoryCircuitStateStoreOptions {
  /**
   * Makes every call reject with this error while it returns a value, to test how breakers behave
   * when the store fails.
   */
  readonly failWith?: () => unknown;
}

/**
 * The in-memory reference {@link CircuitStateStore}: shares state between breakers in one process
 * (tests, several breakers on one name). It keeps the port's guarantees: last writer by `at` wins,
 * `publish` releases probe leases, at most `maxProbes` unexpired leases.
 */
export function memoryCircuitStateStore(options: MemoryCircuitStateStoreOptions = {}): CircuitStateStore {
  const states = new Map<string, SharedCircuitState>();
  const leases = new Map<string, number[]>();
  const check = (signal: AbortSignal | undefined): void => {
    signal?.throwIfAborted();
    const error = options.failWith?.();
    if (error !== undefined) throw error;
  };
  return {
    async read(name, readOptions) {
      check(readOptions?.signal);
      return states.get(name);
    },
    async publish(name, state, publishOptions) {
      check(publishOptions?.signal);
      const current = states.get(name);
      if (current && current.at > state.at) return;
      states.set(name, state);
      leases.delete(name);
    },
    async acquireProbe(name, probeOptions: AcquireProbeOptions) {
      check(probeOptions.signal);
      const live = (leases.get(name) ?? []).filter((expiresAt) => expiresAt > probeOptions.now);
      const acquired = live.length < probeOptions.maxProbes;
      if (acquired) live.push(probeOptions.now + probeOptions.leaseMs);
      leases.set(name, live);
      return acquired;
    },
  };
}
