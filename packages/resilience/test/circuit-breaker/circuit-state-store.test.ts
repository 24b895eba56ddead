import {
  BrokenCircuitError,
  type CircuitStateStore,
  circuitBreaker,
  consecutive,
  memoryCircuitStateStore,
} from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';

const ok = async () => 'ok';
const fail = async () => {
  throw new Error('down');
};
const settle = (promise: Promise<unknown>) =>
  promise.then(
    () => 'success',
    (error: unknown) => error,
  );
/** Lets background store calls (publish, read) settle. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Counts the calls made to a store. */
function counting(store: CircuitStateStore) {
  const calls = { read: 0, publish: 0, acquireProbe: 0 };
  const counted: CircuitStateStore = {
    read: (...args) => {
      calls.read++;
      return store.read(...args);
    },
    publish: (...args) => {
      calls.publish++;
      return store.publish(...args);
    },
    acquireProbe: (...args) => {
      calls.acquireProbe++;
      return store.acquireProbe(...args);
    },
  };
  return { store: counted, calls };
}

function fleet(store: CircuitStateStore, options: { halfOpenMaxCalls?: number } = {}) {
  const clock = manualClock(10_000);
  const make = () =>
    circuitBreaker({
      name: 'payments',
      strategy: consecutive(2),
      halfOpenAfter: 1_000,
      store,
      syncIntervalMs: 100,
      clock,
      ...options,
    });
  return { clock, a: make(), b: make() };
}

describe('circuitBreaker with a CircuitStateStore', () => {
  it('an opening on one instance reaches the others at their next sync', async () => {
    const { clock, a, b } = fleet(memoryCircuitStateStore());
    await b.execute(ok);
    await settle(a.execute(fail));
    await settle(a.execute(fail));
    expect(a.state).toBe('open');
    await flush();
    // b synced less than syncIntervalMs ago: it still runs calls on its local state.
    await expect(b.execute(ok)).resolves.toBe('ok');
    clock.advance(100);
    await b.execute(ok); // this call triggers the background read
    await flush();
    expect(b.state).toBe('open');
    const error = await settle(b.execute(ok));
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect((error as BrokenCircuitError).retryAfterMs).toBe(900);
  });

  it('never awaits the store on the happy path: at most one read per syncIntervalMs', async () => {
    const { store, calls } = counting(memoryCircuitStateStore());
    const { clock, a } = fleet(store);
    for (let index = 0; index < 100; index++) await a.execute(ok);
    expect(calls).toEqual({ read: 1, publish: 0, acquireProbe: 0 });
    clock.advance(100);
    for (let index = 0; index < 100; index++) await a.execute(ok);
    expect(calls.read).toBe(2);
  });

  it('limits half-open probes across instances with probe leases', async () => {
    const { clock, a, b } = fleet(memoryCircuitStateStore());
    await settle(a.execute(fail));
    await settle(a.execute(fail));
    await flush();
    clock.advance(100);
    await settle(b.execute(ok));
    await flush();
    expect(b.state).toBe('open');
    clock.advance(1_000);
    let release!: () => void;
    const probeOnA = a.execute(() => new Promise<string>((resolve) => (release = () => resolve('probed'))));
    await flush();
    const onB = await settle(b.execute(ok));
    expect(onB).toBeInstanceOf(BrokenCircuitError);
    release();
    await expect(probeOnA).resolves.toBe('probed');
    expect(a.state).toBe('closed');
    await flush();
    clock.advance(100);
    await b.execute(ok).catch(() => {});
    await flush();
    expect(b.state).toBe('closed');
  });

  it('isolate() and reset() reach every instance', async () => {
    const { clock, a, b } = fleet(memoryCircuitStateStore());
    a.isolate();
    await flush();
    clock.advance(100);
    await settle(b.execute(ok));
    await flush();
    expect(b.state).toBe('isolated');
    a.reset();
    await flush();
    clock.advance(100);
    await settle(b.execute(ok));
    await flush();
    expect(b.state).toBe('closed');
  });

  it('falls back to local state when the store fails, and reports it', async () => {
    let down = true;
    const store = memoryCircuitStateStore({ failWith: () => (down ? new Error('store down') : undefined) });
    const { clock, a } = fleet(store);
    const errors: unknown[] = [];
    a.onStoreError(({ error }) => errors.push(error));
    await expect(a.execute(ok)).resolves.toBe('ok');
    await settle(a.execute(fail));
    await settle(a.execute(fail));
    await flush();
    expect(a.state).toBe('open');
    clock.advance(1_000);
    // The probe lease cannot be taken: the breaker probes on local state alone.
    await expect(a.execute(ok)).resolves.toBe('ok');
    expect(a.state).toBe('closed');
    expect(errors.length).toBeGreaterThanOrEqual(3);
    down = false;
  });

  it('ignores a shared state older than its own last transition', async () => {
    const stale: CircuitStateStore = {
      ...memoryCircuitStateStore(),
      read: async () => ({ state: 'open', at: 5_000, openUntil: 1_000_000 }),
    };
    const { clock, a } = fleet(stale);
    a.isolate();
    a.reset(); // last transition at 10_000, newer than the stored one
    clock.advance(100);
    await a.execute(ok);
    await flush();
    expect(a.state).toBe('closed');
  });

  it('adopts a newer shared state published by another process', async () => {
    const fresh: CircuitStateStore = {
      ...memoryCircuitStateStore(),
      read: async () => ({ state: 'open', at: 10_050, openUntil: 12_000 }),
    };
    const { clock, a } = fleet(fresh);
    clock.advance(100);
    await a.execute(ok);
    await flush();
    expect(a.snapshot()).toMatchObject({ state: 'open', nextProbeAt: 12_000 });
  });

  it("a crashed prober's lease expires after probeLeaseMs, then another instance may probe", async () => {
    const store = memoryCircuitStateStore();
    const clock = manualClock(10_000);
    const make = () =>
      circuitBreaker({
        name: 'payments',
        strategy: consecutive(1),
        halfOpenAfter: 1_000,
        probeLeaseMs: 5_000,
        store,
        syncIntervalMs: 0,
        clock,
      });
    const a = make();
    const b = make();
    await settle(a.execute(fail));
    await flush();
    await settle(b.execute(ok)); // b learns the circuit is open
    await flush();
    expect(b.state).toBe('open');
    clock.advance(1_000);
    void a.execute(() => new Promise(() => {})); // a's probe hangs forever (its process "crashed")
    await flush();
    expect(await settle(b.execute(ok))).toBeInstanceOf(BrokenCircuitError);
    clock.advance(5_000);
    await expect(b.execute(ok)).resolves.toBe('ok');
    expect(b.state).toBe('closed');
  });

  it('abandons a hanging store call after storeTimeoutMs: the probe goes on with local state', async () => {
    const signals: AbortSignal[] = [];
    const hanging: CircuitStateStore = {
      read: () => new Promise(() => {}),
      publish: () => new Promise(() => {}),
      acquireProbe: (_, { signal }) => {
        if (signal) signals.push(signal);
        return new Promise(() => {}); // ignores its signal, too
      },
    };
    const clock = manualClock(10_000);
    const breaker = circuitBreaker({
      name: 'payments',
      strategy: consecutive(1),
      halfOpenAfter: 1_000,
      store: hanging,
      storeTimeoutMs: 200,
      clock,
    });
    const storeErrors: unknown[] = [];
    breaker.onStoreError(({ error }) => storeErrors.push(error));
    await settle(breaker.execute(fail));
    await clock.advanceAsync(1_000);
    const probe = breaker.execute(ok);
    await clock.advanceAsync(199);
    expect(breaker.snapshot().probesInFlight).toBe(1);
    await clock.advanceAsync(1);
    await expect(probe).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(signals[0]?.aborted).toBe(true);
    expect(storeErrors.length).toBeGreaterThanOrEqual(1);
    // The hung background read was abandoned too: no timer is left behind.
    await clock.advanceAsync(1_000);
    expect(clock.pendingTimers()).toBe(0);
  });
});
