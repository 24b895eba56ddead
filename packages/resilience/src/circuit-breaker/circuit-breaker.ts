import type { Backoff } from '../backoff/backoff.js';
import type { Clock } from '../clock/clock.js';
import type { Event, EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import type { Executable, ExecuteOptions, Policy } from '../policy/policy.js';
import { executeInRootScope, invoke, runInScope, type Scope, type ScopedPolicy } from '../policy/scope.js';
import { observePolicy, type PolicyObservations, policyEvent } from '../telemetry/resilience-telemetry.js';
import type { BreakerRecorder } from './breaker-strategy.js';
import { BrokenCircuitError, IsolatedCircuitError } from './circuit-breaker-errors.js';
import type {
  CircuitBreakerEvents,
  CircuitFailureEvent,
  CircuitRejectedEvent,
  CircuitStoreErrorEvent,
  CircuitSuccessEvent,
  StateChangeEvent,
  StateChangeReason,
} from './circuit-breaker-events.js';
import {
  type CircuitBreakerOptions,
  type CircuitState,
  circuitBreakerDefaults,
  validateCircuitBreakerOptions,
} from './circuit-breaker-options.js';
import type { CircuitStateStore, SharedCircuitState } from './circuit-state-store.js';
import { callStore } from './store-call.js';

/** What {@link CircuitBreakerPolicy.snapshot} reports, for dashboards and health checks. */
export interface CircuitBreakerSnapshot {
  /** The breaker's `name`. */
  readonly name: string;
  /** The state now (`half-open` once an open circuit's delay has passed). */
  readonly state: CircuitState;
  /** Calls recorded by the strategy while closed (in its window, for `failureRate`). */
  readonly calls: number;
  /** Failed calls among them. */
  readonly failures: number;
  /** Slow calls among them. */
  readonly slowCalls: number;
  /** Failures in a row since the last success. */
  readonly consecutiveFailures: number;
  /** `failures / calls`, 0 without calls. */
  readonly failureRate: number;
  /** `slowCalls / calls`, 0 without calls. */
  readonly slowCallRate: number;
  /** When open: the clock time from which probes are admitted. */
  readonly nextProbeAt: number | undefined;
  /** Probes running now (half-open). */
  readonly probesInFlight: number;
  /** Times the circuit opened in a row without closing (drives a `halfOpenAfter` backoff). */
  readonly consecutiveOpenings: number;
}

/** The circuit breaker returned by {@link circuitBreaker}. */
export interface CircuitBreakerPolicy extends Policy {
  /** The `name` option: names the circuit in errors, events and the shared store. */
  readonly name: string;
  /** The state now; an open circuit whose delay passed reports `half-open`. */
  readonly state: CircuitState;
  /** Holds the circuit open (every call fails with `IsolatedCircuitError`) until {@link CircuitBreakerPolicy.reset}. */
  isolate(): void;
  /** Closes the circuit and forgets recorded calls. */
  reset(): void;
  /** State, counts, rates and the next probe time, for dashboards and health checks. */
  snapshot(): CircuitBreakerSnapshot;
  /**
   * Every transition. The move from open to half-open is made, and reported, when the first call
   * arrives after `halfOpenAfter` (no timer runs while the circuit is open).
   */
  readonly onStateChange: Event<StateChangeEvent>;
  /** Emitted after a call the breaker ran succeeded. */
  readonly onSuccess: Event<CircuitSuccessEvent>;
  /** Emitted after a call the breaker ran failed with an error that counts. */
  readonly onFailure: Event<CircuitFailureEvent>;
  /** Emitted when the breaker refuses a call. */
  readonly onRejected: Event<CircuitRejectedEvent>;
  /** Emitted when the shared store fails (the breaker goes on with local state). */
  readonly onStoreError: Event<CircuitStoreErrorEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof CircuitBreakerEvents>(name: K, listener: Listener<CircuitBreakerEvents[K]>): EventSubscription;
}

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
type StateCode = 0 | 1 | 2 | 3;
const STATE_NAMES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated'];

class CircuitBreakerImpl implements CircuitBreakerPolicy, ScopedPolicy {
  readonly name: string;
  readonly clock: Clock;
  readonly recorder: BreakerRecorder;
  readonly slowCallMs: number | undefined;
  readonly halfOpenAfter: number | Backoff;
  readonly halfOpenMaxCalls: number;
  readonly failureOn: ((error: unknown) => boolean) | undefined;
  readonly store: CircuitStateStore | undefined;
  readonly syncIntervalMs: number;
  readonly probeLeaseMs: number;
  readonly storeTimeoutMs: number;
  readonly random: () => number;

  stateCode: StateCode = CLOSED;
  openUntil = 0;
  openings = 0;
  lastOpenDelayMs = 0;
  probesInFlight = 0;
  /** Incremented by every transition, so a probe that settles after one does not act twice. */
  generation = 0;
  changedAt = Number.NEGATIVE_INFINITY;
  nextSyncAt = Number.NEGATIVE_INFINITY;
  syncing = false;

  readonly stateChangeEmitter = new EventEmitter<StateChangeEvent>();
  readonly successEmitter = new EventEmitter<CircuitSuccessEvent>();
  readonly failureEmitter = new EventEmitter<CircuitFailureEvent>();
  readonly rejectedEmitter = new EventEmitter<CircuitRejectedEvent>();
  readonly storeErrorEmitter = new EventEmitter<CircuitStoreErrorEvent>();
  readonly onStateChange = this.stateChangeEmitter.event;
  readonly onSuccess = this.successEmitter.event;
  readonly onFailure = this.failureEmitter.event;
  readonly onRejected = this.rejectedEmitter.event;
  readonly onStoreError = this.storeErrorEmitter.event;

  /** Calls by outcome since creation, read by the `bulwark.circuit_breaker.calls` instrument. */
  succeeded = 0;
  failed = 0;
  rejected = 0;

  constructor(options: CircuitBreakerOptions) {
    this.name = options.name ?? circuitBreakerDefaults.name;
    this.clock = options.clock ?? circuitBreakerDefaults.clock;
    this.recorder = options.strategy.create(this.clock);
    this.slowCallMs = options.strategy.slowCallMs;
    this.halfOpenAfter = options.halfOpenAfter ?? circuitBreakerDefaults.halfOpenAfter;
    this.halfOpenMaxCalls = options.halfOpenMaxCalls ?? circuitBreakerDefaults.halfOpenMaxCalls;
    this.failureOn = options.failureOn;
    this.store = options.store;
    this.syncIntervalMs = options.syncIntervalMs ?? circuitBreakerDefaults.syncIntervalMs;
    this.probeLeaseMs = options.probeLeaseMs ?? circuitBreakerDefaults.probeLeaseMs;
    this.storeTimeoutMs = options.storeTimeoutMs ?? circuitBreakerDefaults.storeTimeoutMs;
    this.random = options.random ?? circuitBreakerDefaults.random;
    observePolicy(this);
  }

  /** Reports the state (1 for the current one, 0 for the others) and the calls by outcome. */
  observe(report: PolicyObservations): void {
    const name = this.name;
    const current = this.state;
    for (const state of STATE_NAMES)
      report.breakerState(state === current ? 1 : 0, {
        'bulwark.circuit_breaker.name': name,
        'bulwark.circuit_breaker.state': state,
      });
    const outcome = 'bulwark.circuit_breaker.outcome';
    report.breakerCalls(this.succeeded, { 'bulwark.circuit_breaker.name': name, [outcome]: 'success' });
    report.breakerCalls(this.failed, { 'bulwark.circuit_breaker.name': name, [outcome]: 'failure' });
    report.breakerCalls(this.rejected, { 'bulwark.circuit_breaker.name': name, [outcome]: 'rejected' });
  }

  on<K extends keyof CircuitBreakerEvents>(name: K, listener: Listener<CircuitBreakerEvents[K]>): EventSubscription {
    const events: { [E in keyof CircuitBreakerEvents]: Event<CircuitBreakerEvents[E]> } = {
      stateChange: this.onStateChange,
      success: this.onSuccess,
      failure: this.onFailure,
      rejected: this.onRejected,
      storeError: this.onStoreError,
    };
    const event = events[name];
    if (!event) throw unknownEventError('circuitBreaker', name);
    return event(listener);
  }

  get state(): CircuitState {
    if (this.stateCode === OPEN && this.clock.now() >= this.openUntil) return 'half-open';
    return STATE_NAMES[this.stateCode] as CircuitState;
  }

  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T> {
    return executeInRootScope(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    if (this.store !== undefined) this.sync();
    if (this.stateCode !== CLOSED) return this.notClosed(fn, scope);
    if (this.slowCallMs !== undefined || this.successEmitter.hasListeners || this.failureEmitter.hasListeners) {
      return this.measured(fn, scope, false);
    }
    // The happy path: no clock read, one `then`, and no closure unless the call can be cancelled
    // (a cancelled call must not count, so its failure handler needs the scope).
    const promise = invoke(fn, scope);
    if (!scope.canAbort) return promise.then(this.closedSuccess as (value: T) => T, this.closedFailure);
    return promise.then(this.closedSuccess as (value: T) => T, (error: unknown) =>
      scope.aborted ? Promise.reject(error) : this.closedFailure(error),
    );
  }

  private readonly closedSuccess = (value: unknown): unknown => {
    this.succeeded += 1;
    if (this.stateCode === CLOSED && this.recorder.record(false, false)) this.transition(OPEN, 'failures');
    return value;
  };

  private readonly closedFailure = (error: unknown): never => {
    this.failed += 1;
    if (this.stateCode === CLOSED && this.counts(error) && this.recorder.record(true, false)) {
      this.transition(OPEN, 'failures');
    }
    throw error;
  };

  private counts(error: unknown): boolean {
    return this.failureOn === undefined || this.failureOn(error);
  }

  /** Runs a call while measuring its duration: slow-call tracking, listeners, probes. */
  private measured<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope, probe: boolean): Promise<T> {
    const startedAt = this.clock.now();
    const generation = this.generation;
    const state: CircuitState = probe ? 'half-open' : 'closed';
    return invoke(fn, scope).then(
      (value) => {
        const durationMs = this.clock.now() - startedAt;
        const slow = this.slowCallMs !== undefined && durationMs >= this.slowCallMs;
        this.succeeded += 1;
        if (probe) this.probeSettled(generation, slow);
        else if (this.stateCode === CLOSED && this.recorder.record(false, slow)) this.transition(OPEN, 'failures');
        if (this.successEmitter.hasListeners) this.successEmitter.emit({ durationMs, state });
        return value;
      },
      (error: unknown) => {
        const durationMs = this.clock.now() - startedAt;
        // A call its caller cancelled (or a hedge sibling won) says nothing about the dependency.
        const counts = !scope.aborted && this.counts(error);
        this.failed += 1;
        const slow = this.slowCallMs !== undefined && durationMs >= this.slowCallMs;
        if (probe) this.probeSettled(generation, counts || slow, !counts);
        else if (counts && this.stateCode === CLOSED && this.recorder.record(true, slow)) {
          this.transition(OPEN, 'failures');
        }
        if (counts && this.failureEmitter.hasListeners) this.failureEmitter.emit({ error, durationMs, state });
        throw error;
      },
    );
  }

  private probeSettled(generation: number, failed: boolean, ignored = false): void {
    if (generation !== this.generation) return;
    this.probesInFlight -= 1;
    if (ignored) return;
    this.transition(failed ? OPEN : CLOSED, failed ? 'probe-failed' : 'probe-succeeded');
  }

  private notClosed<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    if (this.stateCode === ISOLATED) return this.reject(new IsolatedCircuitError(this.name));
    const now = this.clock.now();
    if (this.stateCode === OPEN) {
      if (now < this.openUntil) return this.reject(new BrokenCircuitError(this.openUntil - now, this.name));
      this.transition(HALF_OPEN, 'half-open');
    }
    if (this.probesInFlight >= this.halfOpenMaxCalls) return this.reject(new BrokenCircuitError(0, this.name));
    this.probesInFlight += 1;
    if (this.store === undefined) return this.measured(fn, scope, true);
    return this.probeWithStore(fn, scope, this.store, now);
  }

  private async probeWithStore<T>(
    fn: (scope: Scope) => T | PromiseLike<T>,
    scope: Scope,
    store: CircuitStateStore,
    now: number,
  ): Promise<T> {
    const generation = this.generation;
    let admitted: boolean;
    try {
      admitted = await callStore(this.clock, this.storeTimeoutMs, scope.abortSignal, (signal) =>
        store.acquireProbe(this.name, { maxProbes: this.halfOpenMaxCalls, leaseMs: this.probeLeaseMs, now, signal }),
      );
    } catch (error) {
      if (scope.aborted) {
        if (generation === this.generation) this.probesInFlight -= 1;
        throw scope.reason;
      }
      this.storeFailed(error);
      admitted = true; // The store is down: probe on local state alone.
    }
    if (generation !== this.generation) {
      // The circuit moved on while we asked (a sibling's probe settled, the store said so).
      return this.stateCode === CLOSED ? this[runInScope](fn, scope) : this.notClosed(fn, scope);
    }
    if (!admitted) {
      this.probesInFlight -= 1;
      return this.reject(
        new BrokenCircuitError(0, this.name, `Circuit ${this.name} is half-open; probes are running elsewhere`),
      );
    }
    return this.measured(fn, scope, true);
  }

  private reject<T>(error: BrokenCircuitError | IsolatedCircuitError): Promise<T> {
    this.rejected += 1;
    policyEvent('circuit_breaker.rejected', () => ({
      'bulwark.circuit_breaker.name': this.name,
      'bulwark.circuit_breaker.state': this.state,
      'error.type': error.code,
    }));
    if (this.rejectedEmitter.hasListeners) this.rejectedEmitter.emit({ error });
    return Promise.reject(error);
  }

  private transition(to: StateCode, reason: StateChangeReason, shared?: SharedCircuitState): void {
    const from = this.stateCode;
    const now = this.clock.now();
    this.stateCode = to;
    this.generation += 1;
    this.changedAt = shared?.at ?? now;
    if (to === OPEN) {
      this.openings += 1;
      if (shared?.state === 'open') {
        this.openUntil = shared.openUntil;
      } else {
        const delayMs =
          typeof this.halfOpenAfter === 'number'
            ? this.halfOpenAfter
            : this.halfOpenAfter.delayMs({
                attempt: this.openings,
                previousDelayMs: this.lastOpenDelayMs,
                random: this.random,
              });
        this.lastOpenDelayMs = delayMs;
        this.openUntil = now + delayMs;
      }
      this.probesInFlight = 0;
    } else if (to === CLOSED) {
      this.openings = 0;
      this.lastOpenDelayMs = 0;
      this.probesInFlight = 0;
      this.recorder.reset();
    } else if (to === ISOLATED) {
      this.probesInFlight = 0;
    }
    policyEvent(
      'circuit_breaker.state_change',
      () => ({
        'bulwark.circuit_breaker.name': this.name,
        'bulwark.circuit_breaker.from': STATE_NAMES[from] as CircuitState,
        'bulwark.circuit_breaker.state': STATE_NAMES[to] as CircuitState,
        'bulwark.circuit_breaker.reason': reason,
      }),
      (instruments, attributes) => instruments.breakerTransitions.add(1, attributes),
    );
    if (this.stateChangeEmitter.hasListeners) {
      this.stateChangeEmitter.emit({
        from: STATE_NAMES[from] as CircuitState,
        to: STATE_NAMES[to] as CircuitState,
        reason,
        ...(to === OPEN ? { openUntil: this.openUntil } : {}),
      });
    }
    if (this.store !== undefined && shared === undefined && to !== HALF_OPEN) this.publish(to);
  }

  private publish(to: StateCode): void {
    const store = this.store as CircuitStateStore;
    const at = this.changedAt;
    const state: SharedCircuitState =
      to === OPEN
        ? { state: 'open', at, openUntil: this.openUntil }
        : { state: to === ISOLATED ? 'isolated' : 'closed', at };
    callStore(this.clock, this.storeTimeoutMs, undefined, (signal) =>
      store.publish(this.name, state, { signal }),
    ).catch((error: unknown) => this.storeFailed(error));
  }

  /** Reads the shared state in the background, at most once per `syncIntervalMs`. */
  private sync(): void {
    if (this.syncing) return;
    const now = this.clock.now();
    if (now < this.nextSyncAt) return;
    this.nextSyncAt = now + this.syncIntervalMs;
    this.syncing = true;
    const store = this.store as CircuitStateStore;
    callStore(this.clock, this.storeTimeoutMs, undefined, (signal) => store.read(this.name, { signal })).then(
      (shared) => {
        this.syncing = false;
        if (shared) this.adopt(shared);
      },
      (error: unknown) => {
        this.syncing = false;
        this.storeFailed(error);
      },
    );
  }

  /** Adopts a state published by another instance if it is newer than ours. */
  adopt(shared: SharedCircuitState): void {
    if (shared.at <= this.changedAt) return;
    const to = shared.state === 'open' ? OPEN : shared.state === 'isolated' ? ISOLATED : CLOSED;
    if (to === this.stateCode && (to !== OPEN || shared.state !== 'open' || shared.openUntil === this.openUntil)) {
      this.changedAt = shared.at;
      return;
    }
    this.transition(to, 'store', shared);
  }

  private storeFailed(error: unknown): void {
    if (this.storeErrorEmitter.hasListeners) this.storeErrorEmitter.emit({ error });
  }

  isolate(): void {
    if (this.stateCode !== ISOLATED) this.transition(ISOLATED, 'isolated');
  }

  reset(): void {
    this.transition(CLOSED, 'reset');
  }

  snapshot(): CircuitBreakerSnapshot {
    const stats = this.recorder.stats();
    return {
      name: this.name,
      state: this.state,
      calls: stats.calls,
      failures: stats.failures,
      slowCalls: stats.slowCalls,
      consecutiveFailures: stats.consecutiveFailures,
      failureRate: stats.calls === 0 ? 0 : stats.failures / stats.calls,
      slowCallRate: stats.calls === 0 ? 0 : stats.slowCalls / stats.calls,
      nextProbeAt: this.stateCode === OPEN ? this.openUntil : undefined,
      probesInFlight: this.probesInFlight,
      consecutiveOpenings: this.openings,
    };
  }
}

/**
 * Stops calling a dependency that keeps failing. Closed, it runs calls and feeds their outcomes
 * to its `strategy`; when that says so it opens and every call fails fast with
 * {@link BrokenCircuitError} (carrying `retryAfterMs`) for `halfOpenAfter`; then it is half-open
 * and admits up to `halfOpenMaxCalls` probes at once: the first probe to succeed closes it, the
 * first to fail opens it again. `isolate()` holds it open until `reset()`.
 *
 * @throws {@link InvalidOptionsError} listing every invalid option.
 * @example
 * ```ts
 * const breaker = circuitBreaker({
 *   name: 'payments',
 *   strategy: failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 100 } }),
 *   halfOpenAfter: exponential({ initialMs: 5_000, maxMs: 60_000 }),
 * });
 * breaker.onStateChange(({ from, to }) => console.log(`payments: ${from} -> ${to}`));
 * await breaker.execute(({ signal }) => fetch('https://example.com/pay', { method: 'POST', signal }));
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions): CircuitBreakerPolicy {
  validateCircuitBreakerOptions(options);
  return new CircuitBreakerImpl(options);
}
