import type { DeadlineEntry } from '../clock/deadline-queue.js';
import { DeadlineQueue } from '../clock/deadline-queue.js';
import type { Event, EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import type { Executable, ExecuteOptions, Policy } from '../policy/policy.js';
import {
  AbortableScope,
  executeInRootScope,
  invoke,
  runInScope,
  type Scope,
  type ScopedPolicy,
} from '../policy/scope.js';
import { policyEvent } from '../telemetry/resilience-telemetry.js';
import { TimeoutError } from './timeout-errors.js';
import type { TimeoutEvent, TimeoutEvents } from './timeout-events.js';
import { type TimeoutOptions, timeoutDefaults, validateTimeoutOptions } from './timeout-options.js';

/** The timeout policy returned by {@link timeout}. */
export interface TimeoutPolicy extends Policy {
  /** The deadline, in ms. */
  readonly timeoutMs: number;
  /** Emitted when a call's deadline passes. */
  readonly onTimeout: Event<TimeoutEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof TimeoutEvents>(name: K, listener: Listener<TimeoutEvents[K]>): EventSubscription;
}

class TimeoutScope extends AbortableScope implements DeadlineEntry {
  dueAt = 0;
  queued = false;
  timedOut = false;
  reject: ((error: unknown) => void) | undefined = undefined;

  constructor(
    parent: Scope,
    readonly policy: TimeoutPolicyImpl,
  ) {
    super(parent, parent.attempt);
  }

  onDeadline(): void {
    this.timedOut = true;
    const error = new TimeoutError(this.policy.timeoutMs);
    if (this.policy.timeoutEmitter.hasListeners) {
      this.policy.timeoutEmitter.emit({ timeoutMs: this.policy.timeoutMs, attempt: this.attempt });
    }
    this.abort(error);
    this.reject?.(error);
  }
}

class TimeoutPolicyImpl implements TimeoutPolicy, ScopedPolicy {
  readonly timeoutMs: number;
  readonly aggressive: boolean;
  readonly queue: DeadlineQueue;
  readonly timeoutEmitter = new EventEmitter<TimeoutEvent>();
  readonly onTimeout = this.timeoutEmitter.event;

  constructor(options: TimeoutOptions) {
    this.timeoutMs = options.ms;
    this.aggressive = (options.strategy ?? timeoutDefaults.strategy) === 'aggressive';
    this.queue = new DeadlineQueue(options.clock ?? timeoutDefaults.clock, options.ms);
  }

  on<K extends keyof TimeoutEvents>(name: K, listener: Listener<TimeoutEvents[K]>): EventSubscription {
    if (name !== 'timeout') throw unknownEventError('timeout', name);
    return this.onTimeout(listener);
  }

  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T> {
    return executeInRootScope(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    const inner = new TimeoutScope(scope, this);
    this.queue.add(inner);
    const promise = invoke(fn, inner);
    if (!this.aggressive) {
      return promise.then(
        (value) => {
          this.settle(inner);
          return value;
        },
        (error: unknown) => {
          this.settle(inner);
          if (inner.timedOut) this.timedOut(inner);
          if (inner.timedOut && error !== inner.abortReason) {
            throw new TimeoutError(this.timeoutMs, { cause: error });
          }
          throw error;
        },
      );
    }
    return new Promise<T>((resolve, reject) => {
      inner.reject = reject;
      if (scope.abortSignal !== undefined) {
        // Aggressive also means the caller's abort rejects at once, whatever fn does.
        inner.signal.addEventListener('abort', () => reject(inner.reason), { once: true });
      }
      promise.then(
        (value) => {
          this.settle(inner);
          resolve(value);
        },
        (error: unknown) => {
          this.settle(inner);
          if (inner.timedOut) this.timedOut(inner);
          reject(error);
        },
      );
    });
  }

  /**
   * Records a timeout on the caller's span. Called from the call's own continuation, not from the
   * shared deadline timer, whose context belongs to whichever call armed it.
   */
  private timedOut(inner: TimeoutScope): void {
    policyEvent(
      'timeout',
      () => ({ 'bulwark.timeout.ms': this.timeoutMs, 'bulwark.timeout.attempt': inner.attempt }),
      (instruments) => instruments.timeouts.add(1),
    );
  }

  private settle(inner: TimeoutScope): void {
    this.queue.remove(inner);
    inner.release();
    inner.reject = undefined;
  }
}

/**
 * Bounds how long each call may take. `fn` receives a signal that aborts at the deadline
 * (cooperative); with `strategy: 'aggressive'` the call also rejects at the deadline even if `fn`
 * ignores the signal. The deadlines of all calls share one clock timer.
 *
 * @throws {@link InvalidOptionsError} when `ms` is missing or negative.
 * @example
 * ```ts
 * const fiveSeconds = timeout({ ms: 5_000 });
 * const body = await fiveSeconds.execute(({ signal }) => fetch(url, { signal }).then((r) => r.text()));
 * ```
 */
export function timeout(options: TimeoutOptions): TimeoutPolicy {
  validateTimeoutOptions(options);
  return new TimeoutPolicyImpl(options);
}
