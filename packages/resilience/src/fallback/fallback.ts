import type { Event, EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import type { ExecuteOptions, ExecutionContext } from '../policy/policy.js';
import { executeInRootScope, invoke, runInScope, type Scope, type ScopedPolicy } from '../policy/scope.js';
import { type FallbackOptions, validateFallbackOptions } from './fallback-options.js';

/** Emitted when a call falls back. */
export interface FallbackEvent {
  /** The error replaced. */
  readonly error: unknown;
}

/** Events of the fallback policy, by name. */
export interface FallbackEvents {
  /** A call fell back. */
  fallback: FallbackEvent;
}

/** The fallback policy returned by {@link fallback}: its calls resolve to `T` or to the fallback `F`. */
export interface FallbackPolicy<F> {
  /** Runs `fn`, replacing chosen errors by the fallback value. */
  execute<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T | F>;
  /** Emitted when a call falls back. */
  readonly onFallback: Event<FallbackEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof FallbackEvents>(name: K, listener: Listener<FallbackEvents[K]>): EventSubscription;
  /** Carries `F` for `pipeline`'s result type; never set. */
  readonly fallbackType?: F;
}

class FallbackImpl<F> implements FallbackPolicy<F>, ScopedPolicy {
  readonly fallbackEmitter = new EventEmitter<FallbackEvent>();
  readonly onFallback = this.fallbackEmitter.event;
  constructor(readonly options: FallbackOptions<F>) {}

  on<K extends keyof FallbackEvents>(name: K, listener: Listener<FallbackEvents[K]>): EventSubscription {
    if (name !== 'fallback') throw unknownEventError('fallback', name);
    return this.onFallback(listener);
  }

  execute<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T | F> {
    return executeInRootScope<T>(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    return invoke(fn, scope).then(undefined, (error: unknown) => {
      // A cancelled call stays cancelled: a fallback value would hide that the caller gave up.
      if (scope.aborted) throw scope.reason;
      if (this.options.when && !this.options.when(error)) throw error;
      if (this.fallbackEmitter.hasListeners) this.fallbackEmitter.emit({ error });
      const to = this.options.to;
      return (typeof to === 'function'
        ? (to as (error: unknown, context: ExecutionContext) => F)(error, scope)
        : to) as unknown as T;
    });
  }
}

/**
 * Replaces chosen errors by a value, or by what a function of the error returns.
 *
 * @throws {@link InvalidOptionsError} when `when` is not a function.
 * @example
 * ```ts
 * const orEmpty = fallback({ to: [] as Product[], when: (error) => error instanceof BrokenCircuitError });
 * const products = await orEmpty.execute(() => catalog.search(query));
 * const cached = fallback({ to: (error) => cache.get(key) });
 * ```
 */
export function fallback<F>(options: FallbackOptions<F>): FallbackPolicy<F> {
  validateFallbackOptions(options);
  return new FallbackImpl(options);
}
