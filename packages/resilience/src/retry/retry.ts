import type { Backoff } from '../backoff/backoff.js';
import type { Clock } from '../clock/clock.js';
import { delay } from '../clock/delay.js';
import type { Event, EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import type { Executable, ExecuteOptions, Policy } from '../policy/policy.js';
import {
  AttemptScope,
  executeInRootScope,
  invoke,
  runInScope,
  type Scope,
  type ScopedPolicy,
} from '../policy/scope.js';
import { errorType, policyEvent } from '../telemetry/resilience-telemetry.js';
import type { RetryBudget } from './retry-budget.js';
import type { GiveUpEvent, GiveUpReason, RetryEvent, RetryEvents } from './retry-events.js';
import { type RetryDecisionContext, type RetryOptions, retryDefaults, validateRetryOptions } from './retry-options.js';

/** The retry policy returned by {@link retry}. */
export interface RetryPolicy extends Policy {
  /** Emitted before each retry's delay. */
  readonly onRetry: Event<RetryEvent>;
  /** Emitted when the policy gives up and passes on the last error or result. */
  readonly onGiveUp: Event<GiveUpEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): EventSubscription;
}

/**
 * The number of attempts `retry` made before it rethrew `error`, or `undefined` if the error did
 * not go through a retry policy.
 */
export function attemptsOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const attempts = (error as { attempts?: unknown }).attempts;
  return typeof attempts === 'number' ? attempts : undefined;
}

function attachAttempts(error: unknown, attempts: number): void {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, 'attempts', {
      value: attempts,
      configurable: true,
      writable: true,
      enumerable: false,
    });
  }
}

function retryAfterOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
    ? retryAfterMs
    : undefined;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

class RetryPolicyImpl implements RetryPolicy, ScopedPolicy {
  readonly maxAttempts: number;
  readonly maxElapsedMs: number | undefined;
  readonly backoff: Backoff;
  readonly retryOn: (error: unknown, context: RetryDecisionContext) => boolean;
  readonly retryOnResult: ((result: unknown, context: RetryDecisionContext) => boolean) | undefined;
  readonly budget: RetryBudget | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly retryEmitter = new EventEmitter<RetryEvent>();
  readonly giveUpEmitter = new EventEmitter<GiveUpEvent>();
  readonly onRetry = this.retryEmitter.event;
  readonly onGiveUp = this.giveUpEmitter.event;

  constructor(options: RetryOptions) {
    this.maxAttempts = options.maxAttempts ?? retryDefaults.maxAttempts;
    this.maxElapsedMs = options.maxElapsedMs;
    this.backoff = options.backoff ?? retryDefaults.backoff;
    this.retryOn = options.retryOn ?? retryDefaults.retryOn;
    this.retryOnResult = options.retryOnResult;
    this.budget = options.budget;
    this.clock = options.clock ?? retryDefaults.clock;
    this.random = options.random ?? retryDefaults.random;
  }

  on<K extends keyof RetryEvents>(name: K, listener: Listener<RetryEvents[K]>): EventSubscription {
    if (name === 'retry') return this.onRetry(listener as Listener<RetryEvent>);
    if (name === 'giveUp') return this.onGiveUp(listener as Listener<GiveUpEvent>);
    throw unknownEventError('retry', name);
  }

  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T> {
    return executeInRootScope(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    this.budget?.recordCall();
    // Read the clock only when a limit needs it: the happy path of most retries never does.
    const startedAt = this.maxElapsedMs === undefined ? 0 : this.clock.now();
    const promise = invoke(fn, scope.attempt === 1 ? scope : new AttemptScope(scope, 1));
    if (this.retryOnResult === undefined) {
      return promise.then(undefined, (error: unknown) => this.retryLoop(fn, scope, startedAt, { ok: false, error }));
    }
    const retryOnResult = this.retryOnResult;
    return promise.then(
      (value) =>
        retryOnResult(value, { attempt: 1 }) ? this.retryLoop(fn, scope, startedAt, { ok: true, value }) : value,
      (error: unknown) => this.retryLoop(fn, scope, startedAt, { ok: false, error }),
    );
  }

  private async retryLoop<T>(
    fn: (scope: Scope) => T | PromiseLike<T>,
    scope: Scope,
    startedAt: number,
    first: Outcome<T>,
  ): Promise<T> {
    let outcome = first;
    let attempt = 1;
    let previousDelayMs = 0;
    for (;;) {
      // Cancellation wins over everything: the caller gave up, do not retry, reject with its reason.
      if (scope.aborted) throw scope.reason;
      const decision = { attempt };
      if (!outcome.ok && !this.retryOn(outcome.error, decision)) return this.giveUp(outcome, attempt, 'not-retryable');
      if (attempt >= this.maxAttempts) return this.giveUp(outcome, attempt, 'max-attempts');
      const retryAfterMs = outcome.ok ? undefined : retryAfterOf(outcome.error);
      const delayMs =
        retryAfterMs ?? Math.max(0, this.backoff.delayMs({ attempt, previousDelayMs, random: this.random }));
      if (this.maxElapsedMs !== undefined && this.clock.now() + delayMs - startedAt > this.maxElapsedMs) {
        return this.giveUp(outcome, attempt, 'max-elapsed');
      }
      if (this.budget && !this.budget.tryAcquireRetry()) return this.giveUp(outcome, attempt, 'budget');
      previousDelayMs = delayMs;
      attempt += 1;
      if (this.retryEmitter.hasListeners) {
        this.retryEmitter.emit(
          outcome.ok ? { attempt, delayMs, result: outcome.value } : { attempt, delayMs, error: outcome.error },
        );
      }
      policyEvent(
        'retry',
        () => ({
          'bulwark.retry.attempt': attempt,
          'bulwark.retry.delay_ms': delayMs,
          ...(outcome.ok ? {} : { 'error.type': errorType(outcome.error) }),
        }),
        (instruments, attributes) =>
          instruments.attempts.add(
            1,
            attributes['error.type'] === undefined ? {} : { 'error.type': attributes['error.type'] },
          ),
      );
      if (delayMs > 0) await delay(this.clock, delayMs, scope.abortSignal);
      if (scope.aborted) throw scope.reason;
      try {
        const value = await invoke(fn, new AttemptScope(scope, attempt));
        if (this.retryOnResult === undefined || !this.retryOnResult(value, { attempt })) return value;
        outcome = { ok: true, value };
      } catch (error) {
        outcome = { ok: false, error };
      }
    }
  }

  private giveUp<T>(outcome: Outcome<T>, attempts: number, reason: GiveUpReason): T {
    policyEvent(
      'retry.give_up',
      () => ({ 'bulwark.retry.attempts': attempts, 'bulwark.retry.reason': reason }),
      (instruments) => instruments.giveUps.add(1, { 'bulwark.retry.reason': reason }),
    );
    if (this.giveUpEmitter.hasListeners) {
      this.giveUpEmitter.emit(
        outcome.ok ? { attempts, reason, result: outcome.value } : { attempts, reason, error: outcome.error },
      );
    }
    if (outcome.ok) return outcome.value;
    attachAttempts(outcome.error, attempts);
    throw outcome.error;
  }
}

/**
 * Runs `fn` again when it fails, up to `maxAttempts` attempts, waiting a `backoff` delay between
 * attempts (or the `retryAfterMs` the error carries). When attempts run out the last error is
 * rethrown with the attempt count attached (see {@link attemptsOf}). The wait ends at once,
 * rejecting with `signal.reason`, when the caller's signal aborts.
 *
 * @throws {@link InvalidOptionsError} listing every invalid option.
 * @example
 * ```ts
 * const retrying = retry({
 *   maxAttempts: 4,
 *   backoff: exponential({ initialMs: 100, maxMs: 5_000, jitter: 'decorrelated' }),
 *   retryOn: (error) => error instanceof TypeError,
 *   budget: retryBudget({ ratio: 0.2 }),
 * });
 * retrying.onRetry(({ attempt, delayMs }) => console.log(`attempt ${attempt} in ${delayMs} ms`));
 * const user = await retrying.execute(({ signal }) => fetch('https://example.com/user', { signal }));
 * ```
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  validateRetryOptions(options);
  return new RetryPolicyImpl(options);
}
