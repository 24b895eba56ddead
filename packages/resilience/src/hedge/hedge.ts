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
import { type HedgeOptions, hedgeDefaults, validateHedgeOptions } from './hedge-options.js';

/** Emitted when a hedged attempt starts. */
export interface HedgeEvent {
  /** The attempt started: 2 for the first hedge. */
  readonly attempt: number;
  /** `delay` when the previous attempt was slow, `failure` when it failed. */
  readonly trigger: 'delay' | 'failure';
}

/** Events of the hedge policy, by name. */
export interface HedgeEvents {
  /** A hedged attempt started. */
  hedge: HedgeEvent;
}

/** The hedge policy returned by {@link hedge}. */
export interface HedgePolicy extends Policy {
  /** Emitted when a hedged attempt starts. */
  readonly onHedge: Event<HedgeEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof HedgeEvents>(name: K, listener: Listener<HedgeEvents[K]>): EventSubscription;
}

class HedgeRun<T> implements DeadlineEntry {
  dueAt = 0;
  queued = false;
  readonly attempts: AbortableScope[] = [];
  pending = 0;
  settled = false;
  lastError: unknown = undefined;

  constructor(
    readonly policy: HedgeImpl,
    readonly fn: (scope: Scope) => T | PromiseLike<T>,
    readonly scope: Scope,
    readonly resolve: (value: T) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  start(trigger: 'delay' | 'failure' | undefined): void {
    const attempt = new AbortableScope(this.scope, this.attempts.length + 1);
    this.attempts.push(attempt);
    this.pending += 1;
    if (trigger && this.policy.hedgeEmitter.hasListeners) {
      this.policy.hedgeEmitter.emit({ attempt: attempt.attempt, trigger });
    }
    if (this.attempts.length <= this.policy.maxHedgedAttempts) this.policy.deadlines.add(this);
    invoke(this.fn, attempt).then(
      (value) => this.won(value, attempt),
      (error: unknown) => this.lost(error),
    );
  }

  onDeadline(): void {
    if (!this.settled && !this.scope.aborted) this.start('delay');
  }

  won(value: T, winner: AbortableScope): void {
    if (this.settled) return;
    this.finish(winner);
    this.resolve(value);
  }

  lost(error: unknown): void {
    this.pending -= 1;
    this.lastError = error;
    if (this.settled) return;
    if (this.scope.aborted) {
      this.finish(undefined);
      this.reject(this.scope.reason);
    } else if (this.attempts.length <= this.policy.maxHedgedAttempts) {
      this.policy.deadlines.remove(this);
      this.start('failure');
    } else if (this.pending === 0) {
      this.finish(undefined);
      this.reject(error);
    }
  }

  private finish(winner: AbortableScope | undefined): void {
    this.settled = true;
    this.policy.deadlines.remove(this);
    let reason: DOMException | undefined;
    for (const attempt of this.attempts) {
      // Losers are aborted even if they never read their signal yet: reading it later finds it aborted.
      if (attempt !== winner) {
        reason ??= new DOMException('Another hedged attempt settled first', 'AbortError');
        attempt.abort(reason);
      }
      attempt.release();
    }
  }
}

class HedgeImpl implements HedgePolicy, ScopedPolicy {
  readonly maxHedgedAttempts: number;
  readonly deadlines: DeadlineQueue;
  readonly hedgeEmitter = new EventEmitter<HedgeEvent>();
  readonly onHedge = this.hedgeEmitter.event;

  constructor(options: HedgeOptions) {
    this.maxHedgedAttempts = options.maxHedgedAttempts ?? hedgeDefaults.maxHedgedAttempts;
    this.deadlines = new DeadlineQueue(options.clock ?? hedgeDefaults.clock, options.hedgeDelayMs);
  }

  on<K extends keyof HedgeEvents>(name: K, listener: Listener<HedgeEvents[K]>): EventSubscription {
    if (name !== 'hedge') throw unknownEventError('hedge', name);
    return this.onHedge(listener);
  }

  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T> {
    return executeInRootScope(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    return new Promise<T>((resolve, reject) => new HedgeRun(this, fn, scope, resolve, reject).start(undefined));
  }
}

/**
 * Cuts tail latency: when an attempt has not settled after `hedgeDelayMs` (or fails), starts
 * another, up to `maxHedgedAttempts` more; the first success wins and the others' signals abort.
 * If every attempt fails, the call rejects with the last error. Use only for idempotent calls.
 *
 * @throws {@link InvalidOptionsError} listing every invalid option.
 * @example
 * ```ts
 * const fast = hedge({ hedgeDelayMs: 50, maxHedgedAttempts: 2 });
 * const price = await fast.execute(({ signal }) => fetch(priceUrl, { signal }).then((r) => r.json()));
 * ```
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  validateHedgeOptions(options);
  return new HedgeImpl(options);
}
