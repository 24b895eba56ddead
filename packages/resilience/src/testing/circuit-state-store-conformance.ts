import { afterAll, describe, expect, it } from 'vitest';
import type { CircuitStateStore, SharedCircuitState } from '../circuit-breaker/circuit-state-store.js';

/** Options of {@link circuitStateStoreConformance}. */
export interface CircuitStateStoreConformanceOptions {
  /** Makes the store under test, once per suite. */
  readonly createStore: () => CircuitStateStore | Promise<CircuitStateStore>;
  /** Called once after the suite (e.g. to quit a client the factory opened). */
  readonly close?: () => Promise<void> | void;
  /** Prefix of the circuit names the suite uses; make it unique per run on shared servers. */
  readonly namePrefix: string;
  /**
   * Lets `ms` pass for the store. The suite also moves the `now` it passes to the store by `ms`,
   * so stores that expire leases by the caller's `now` and stores that use server-side expiry
   * (e.g. Redis `PX`) both pass.
   * @defaultValue a real sleep
   */
  readonly advance?: (ms: number) => Promise<void>;
  /** The first `now` passed to the store. @defaultValue `Date.now()` when the suite runs */
  readonly startAt?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The conformance suite every {@link CircuitStateStore} must pass on its real backend: read what
 * was published, last writer by `at` wins, names are isolated, at most `maxProbes` probe leases at
 * once (also under concurrency), publishing releases leases, leases expire after `leaseMs`, and
 * every method rejects with `signal.reason` when its signal is aborted.
 *
 * @example
 * ```ts
 * circuitStateStoreConformance('redisCircuitStateStore', {
 *   namePrefix: uniqueName('circuit'),
 *   createStore: () => redisCircuitStateStore(redis),
 * });
 * ```
 */
export function circuitStateStoreConformance(name: string, options: CircuitStateStoreConformanceOptions): void {
  describe(`CircuitStateStore conformance: ${name}`, () => {
    let store: CircuitStateStore | undefined;
    let now = 0;
    let counter = 0;
    const open = async () => {
      if (!store) {
        store = await options.createStore();
        now = options.startAt ?? Date.now();
      }
      return store;
    };
    const uniqueCircuit = () => `${options.namePrefix}:${++counter}`;
    const advance = async (ms: number) => {
      await (options.advance ?? sleep)(ms);
      now += ms;
    };
    afterAll(async () => {
      await options.close?.();
    });

    it('reads undefined for a circuit never published', async () => {
      expect(await (await open()).read(uniqueCircuit())).toBeUndefined();
    });

    it('reads back what was published, for each state', async () => {
      const subject = await open();
      const circuit = uniqueCircuit();
      const states: SharedCircuitState[] = [
        { state: 'open', at: now, openUntil: now + 30_000 },
        { state: 'isolated', at: now + 1 },
        { state: 'closed', at: now + 2 },
      ];
      for (const state of states) {
        await subject.publish(circuit, state);
        expect(await subject.read(circuit)).toEqual(state);
      }
    });

    it('keeps the state with the latest `at`: an older publish is ignored', async () => {
      const subject = await open();
      const circuit = uniqueCircuit();
      const newer: SharedCircuitState = { state: 'open', at: now + 200, openUntil: now + 1_000 };
      await subject.publish(circuit, newer);
      await subject.publish(circuit, { state: 'closed', at: now + 100 });
      expect(await subject.read(circuit)).toEqual(newer);
    });

    it('keeps circuits apart', async () => {
      const subject = await open();
      const first = uniqueCircuit();
      const second = uniqueCircuit();
      await subject.publish(first, { state: 'isolated', at: now });
      expect(await subject.read(second)).toBeUndefined();
      expect(await subject.acquireProbe(first, { maxProbes: 1, leaseMs: 60_000, now })).toBe(true);
      expect(await subject.acquireProbe(second, { maxProbes: 1, leaseMs: 60_000, now })).toBe(true);
    });

    it('admits at most maxProbes probe leases at once, also when asked concurrently', async () => {
      const subject = await open();
      const circuit = uniqueCircuit();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => subject.acquireProbe(circuit, { maxProbes: 3, leaseMs: 60_000, now })),
      );
      expect(results.filter(Boolean)).toHaveLength(3);
      expect(await subject.acquireProbe(circuit, { maxProbes: 3, leaseMs: 60_000, now })).toBe(false);
    });

    it('releases the probe leases of a circuit when a transition is published', async () => {
      const subject = await open();
      const circuit = uniqueCircuit();
      expect(await subject.acquireProbe(circuit, { maxProbes: 1, leaseMs: 60_000, now })).toBe(true);
      expect(await subject.acquireProbe(circuit, { maxProbes: 1, leaseMs: 60_000, now })).toBe(false);
      await subject.publish(circuit, { state: 'closed', at: now });
      expect(await subject.acquireProbe(circuit, { maxProbes: 1, leaseMs: 60_000, now })).toBe(true);
    });

    it('lets a probe lease expire after leaseMs', async () => {
      const subject = await open();
      const circuit = uniqueCircuit();
      const leaseMs = 150;
      expect(await subject.acquireProbe(circuit, { maxProbes: 1, leaseMs, now })).toBe(true);
      expect(await subject.acquireProbe(circuit, { maxProbes: 1, leaseMs, now })).toBe(false);
      await advance(leaseMs + 100);
      expect(await subject.acquireProbe(circuit, { maxProbes: 1, leaseMs, now })).toBe(true);
    });

    it('rejects with the reason of an aborted signal', async () => {
      const subject = await open();
      const circuit = uniqueCircuit();
      const reason = new Error('aborted by the test');
      const signal = AbortSignal.abort(reason);
      await expect(subject.read(circuit, { signal })).rejects.toBe(reason);
      await expect(subject.publish(circuit, { state: 'closed', at: now }, { signal })).rejects.toBe(reason);
      await expect(subject.acquireProbe(circuit, { maxProbes: 1, leaseMs: 1_000, now, signal })).rejects.toBe(reason);
    });
  });
}
