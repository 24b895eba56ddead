import type { Backoff } from '../backoff/backoff.js';
import type { Clock } from '../clock/clock.js';
import { systemClock } from '../clock/clock.js';
import { OptionsValidator } from '../policy/options.js';
import type { BreakerStrategy } from './breaker-strategy.js';
import type { CircuitStateStore } from './circuit-state-store.js';

/** The states of a circuit breaker. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** Options of {@link circuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Names the circuit in errors, events and the shared store. @defaultValue `'circuit'` (required with `store`) */
  readonly name?: string;
  /** When a closed circuit opens: {@link consecutive} or {@link failureRate}. */
  readonly strategy: BreakerStrategy;
  /**
   * How long the circuit stays open before admitting probes: a fixed number of ms, or a
   * {@link Backoff} asked with `attempt` = how many times in a row it opened (so a dependency that
   * keeps failing its probes is probed less and less often).
   * @defaultValue `30_000`
   */
  readonly halfOpenAfter?: number | Backoff;
  /** Probes admitted at once while half-open; the other calls fail fast. @defaultValue `1` */
  readonly halfOpenMaxCalls?: number;
  /**
   * Which errors count as failures; the others count as neither failure nor success. A call whose
   * signal was aborted by its caller never counts.
   * @defaultValue every error
   */
  readonly failureOn?: (error: unknown) => boolean;
  /**
   * Shares the circuit's state between instances. Happy-path calls never wait for the store: the
   * breaker reads the shared state in the background at most once per `syncIntervalMs` (on a call,
   * no timer), publishes its own transitions without waiting, and awaits the store only to take a
   * half-open probe lease. If the store fails, the breaker goes on with its local state.
   */
  readonly store?: CircuitStateStore;
  /** How often, at most, the shared state is read. @defaultValue `1_000` */
  readonly syncIntervalMs?: number;
  /** How long a probe lease taken in the store lasts. @defaultValue `10_000` */
  readonly probeLeaseMs?: number;
  /**
   * A store call taking longer than this is abandoned and counts as a store failure (the breaker
   * goes on with its local state), so a hanging store never hangs a probe.
   * @defaultValue `1_000`
   */
  readonly storeTimeoutMs?: number;
  /** @defaultValue `systemClock` */
  readonly clock?: Clock;
  /** Uniform numbers in [0, 1) for a jittered `halfOpenAfter` backoff. @defaultValue `Math.random` */
  readonly random?: () => number;
}

/** Defaults of {@link CircuitBreakerOptions}. */
export const circuitBreakerDefaults = {
  name: 'circuit',
  halfOpenAfter: 30_000,
  halfOpenMaxCalls: 1,
  syncIntervalMs: 1_000,
  probeLeaseMs: 10_000,
  storeTimeoutMs: 1_000,
  clock: systemClock,
  random: Math.random,
} as const;

/** Checks {@link circuitBreaker} options; throws one `InvalidOptionsError` listing every problem (internal). */
export function validateCircuitBreakerOptions(options: CircuitBreakerOptions): void {
  const validator = new OptionsValidator('circuitBreaker');
  validator.check(
    typeof options?.strategy?.create === 'function',
    'strategy must be a BreakerStrategy (consecutive(n), failureRate({ ... }))',
  );
  validator.check(options?.name === undefined || typeof options.name === 'string', 'name must be a string');
  const halfOpenAfter = options?.halfOpenAfter;
  if (typeof halfOpenAfter === 'number' || halfOpenAfter === undefined)
    validator.number('halfOpenAfter', halfOpenAfter);
  else
    validator.check(typeof halfOpenAfter?.delayMs === 'function', 'halfOpenAfter must be a number of ms or a Backoff');
  validator.number('halfOpenMaxCalls', options?.halfOpenMaxCalls, { min: 1, integer: true });
  validator.function('failureOn', options?.failureOn);
  validator.function('random', options?.random);
  validator.number('syncIntervalMs', options?.syncIntervalMs);
  validator.number('probeLeaseMs', options?.probeLeaseMs, { min: 1 });
  validator.number('storeTimeoutMs', options?.storeTimeoutMs, { min: 1 });
  if (options?.store !== undefined) {
    validator.check(
      typeof options.store.read === 'function' &&
        typeof options.store.publish === 'function' &&
        typeof options.store.acquireProbe === 'function',
      'store must be a CircuitStateStore',
    );
    validator.check(typeof options.name === 'string' && options.name.length > 0, 'name is required with a store');
  }
  validator.throwIfInvalid();
}
