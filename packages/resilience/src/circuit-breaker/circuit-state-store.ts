/**
 * The state of a named circuit as shared between instances (processes, hosts) through a
 * {@link CircuitStateStore}. `half-open` is not stored: a circuit whose `openUntil` has passed is
 * half-open, and who may probe it is decided by {@link CircuitStateStore.acquireProbe}.
 */
export type SharedCircuitState =
  | {
      /** Calls flow. */
      readonly state: 'closed';
      /** Clock time (ms since epoch) of the transition; later transitions win. */
      readonly at: number;
    }
  | {
      /** Calls fail fast until `openUntil`, then probes are admitted. */
      readonly state: 'open';
      readonly at: number;
      /** Clock time (ms since epoch) from which the circuit is half-open. */
      readonly openUntil: number;
    }
  | {
      /** Held open by an operator (`isolate()`) until someone calls `reset()`. */
      readonly state: 'isolated';
      readonly at: number;
    };

/** Options of {@link CircuitStateStore.acquireProbe}. */
export interface AcquireProbeOptions {
  /** How many probes may be running at once across every instance (the breaker's `halfOpenMaxCalls`). */
  readonly maxProbes: number;
  /** A probe lease expires after this long, so a crashed prober does not keep the circuit half-open forever. */
  readonly leaseMs: number;
  /** Clock time (ms since epoch) the caller considers now. */
  readonly now: number;
  /** Cancels the call; it then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * A port through which circuit breakers of the same `name` on several instances share their state:
 * when one instance opens the circuit, the others fail fast too, and only `halfOpenMaxCalls` probes
 * run across the whole fleet when it is half-open.
 *
 * Guarantees an implementation must give (each method is one round trip, e.g. one Redis command or
 * script call):
 * - {@link CircuitStateStore.read} returns the last published state of `name` whose `at` is greatest
 *   (last writer by clock time wins; a publish with an older `at` than the stored one is ignored),
 *   or `undefined` if none was published or it expired.
 * - {@link CircuitStateStore.publish} is atomic: concurrent readers see the previous or the new
 *   state, never a mix. Publishing `closed` or `open` also releases every probe lease of `name`.
 * - {@link CircuitStateStore.acquireProbe} atomically admits at most `maxProbes` holders of
 *   unexpired leases of `name` at once, counted across every instance, and returns whether the
 *   caller got one. Leases expire after `leaseMs` without any call to release them.
 * - Every method rejects with `signal.reason` when its signal aborts, and with an error of its own
 *   when the backend fails. The breaker then falls back to its local state: a store outage never
 *   stops calls from flowing, it only stops the sharing.
 *
 * The circuit breaker never awaits the store on its happy path: it reads the shared state in the
 * background at most once per `syncIntervalMs` (see `CircuitBreakerOptions.store`), publishes
 * its own transitions without waiting, and awaits the store only to acquire a half-open probe lease.
 *
 * An in-memory reference implementation is {@link memoryCircuitStateStore}; the Redis one is
 * `redisCircuitStateStore(redis)` from `@bulwark/resilience/redis`.
 */
export interface CircuitStateStore {
  /** Reads the shared state of the circuit `name`. */
  read(name: string, options?: { readonly signal?: AbortSignal }): Promise<SharedCircuitState | undefined>;
  /** Publishes a transition of the circuit `name`; ignored if a state with a later `at` is stored. */
  publish(name: string, state: SharedCircuitState, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Tries to take one of `maxProbes` half-open probe leases of `name`; resolves `true` if taken. */
  acquireProbe(name: string, options: AcquireProbeOptions): Promise<boolean>;
}
