import type { DeadlineEntry } from '../clock/deadline-queue.js';
import { DeadlineQueue } from '../clock/deadline-queue.js';
import type { Event, EventSubscription, Listener } from '../events/event.js';
import { EventEmitter } from '../events/event.js';
import { unknownEventError } from '../events/unknown-event-error.js';
import type { Executable, ExecuteOptions, Policy } from '../policy/policy.js';
import { executeInRootScope, invoke, runInScope, type Scope, type ScopedPolicy } from '../policy/scope.js';
import {
  countBulkheadRejection,
  observePolicy,
  type PolicyObservations,
  policyEvent,
} from '../telemetry/resilience-telemetry.js';
import { BulkheadRejectedError, type BulkheadRejectionReason } from './bulkhead-errors.js';
import { type BulkheadOptions, bulkheadDefaults, validateBulkheadOptions } from './bulkhead-options.js';

/** Emitted when a bulkhead refuses a call. */
export interface BulkheadRejectedEvent {
  /** Why the call was refused. */
  readonly reason: BulkheadRejectionReason;
}

/** Events of the bulkhead, by name. */
export interface BulkheadEvents {
  /** A call was refused. */
  rejected: BulkheadRejectedEvent;
}

/** What {@link BulkheadPolicy.snapshot} reports. */
export interface BulkheadSnapshot {
  /** Calls running now. */
  readonly running: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  /** The `maxConcurrent` option. */
  readonly maxConcurrent: number;
  /** The `maxQueue` option. */
  readonly maxQueue: number;
}

/** The bulkhead returned by {@link bulkhead}. */
export interface BulkheadPolicy extends Policy {
  /** Running and queued calls now, for dashboards. */
  snapshot(): BulkheadSnapshot;
  /** Emitted when a call is refused (full, or queue timeout). */
  readonly onRejected: Event<BulkheadRejectedEvent>;
  /** Subscribes to an event by name. */
  on<K extends keyof BulkheadEvents>(name: K, listener: Listener<BulkheadEvents[K]>): EventSubscription;
}

class Waiter implements DeadlineEntry {
  dueAt = 0;
  queued = false;
  signal: AbortSignal | undefined = undefined;
  /** Links of the bulkhead's intrusive FIFO list. */
  previous: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  waiting = false;
  constructor(
    readonly bulkhead: BulkheadImpl,
    readonly resolve: () => void,
    readonly reject: (error: unknown) => void,
  ) {}
  /** The queue timeout passed. */
  onDeadline(): void {
    this.bulkhead.leave(this);
    this.bulkhead.rejected('queue-timeout');
    this.reject(new BulkheadRejectedError('queue-timeout', this.bulkhead.maxConcurrent, this.bulkhead.maxQueue));
  }
  /** The caller's signal aborted: leave the queue at once. */
  handleEvent(): void {
    const reason = this.signal?.reason;
    this.bulkhead.leave(this);
    this.reject(reason);
  }
}

class BulkheadImpl implements BulkheadPolicy, ScopedPolicy {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  readonly deadlines: DeadlineQueue | undefined;
  running = 0;
  /**
   * The queue: an intrusive doubly linked list, O(1) at both ends and in the middle (an aborted
   * caller). A Set would do, but taking its first element after many deletions scans the holes
   * they leave, which made draining a long queue quadratic.
   */
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  queued = 0;
  readonly rejectedEmitter = new EventEmitter<BulkheadRejectedEvent>();
  readonly onRejected = this.rejectedEmitter.event;

  readonly attributes: { readonly 'bulwark.bulkhead.name': string };

  constructor(options: BulkheadOptions) {
    this.maxConcurrent = options.maxConcurrent;
    this.maxQueue = options.maxQueue ?? bulkheadDefaults.maxQueue;
    this.deadlines =
      options.queueTimeoutMs === undefined
        ? undefined
        : new DeadlineQueue(options.clock ?? bulkheadDefaults.clock, options.queueTimeoutMs);
    this.attributes = { 'bulwark.bulkhead.name': options.name ?? bulkheadDefaults.name };
    observePolicy(this);
  }

  /** Reports the queue length and running calls to the observable instruments. */
  observe(report: PolicyObservations): void {
    report.bulkheadQueued(this.queued, this.attributes);
    report.bulkheadRunning(this.running, this.attributes);
  }

  on<K extends keyof BulkheadEvents>(name: K, listener: Listener<BulkheadEvents[K]>): EventSubscription {
    if (name !== 'rejected') throw unknownEventError('bulkhead', name);
    return this.onRejected(listener);
  }

  execute<T>(fn: Executable<T>, options?: ExecuteOptions): Promise<T> {
    return executeInRootScope(this, fn, options?.signal);
  }

  [runInScope]<T>(fn: (scope: Scope) => T | PromiseLike<T>, scope: Scope): Promise<T> {
    if (scope.aborted) return Promise.reject(scope.reason);
    if (this.running < this.maxConcurrent) {
      this.running += 1;
      return invoke(fn, scope).then(this.releaseValue as (value: T) => T, this.releaseError);
    }
    if (this.queued >= this.maxQueue) {
      this.rejected('full');
      policyEvent('bulkhead.rejected', () => ({ ...this.attributes, 'bulwark.bulkhead.reason': 'full' }));
      return Promise.reject(new BulkheadRejectedError('full', this.maxConcurrent, this.maxQueue));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = new Waiter(this, resolve, reject);
      this.enqueue(waiter);
      this.deadlines?.add(waiter);
      const signal = scope.abortSignal;
      if (signal) {
        waiter.signal = signal;
        signal.addEventListener('abort', waiter);
      }
    }).then(
      () => invoke(fn, scope).then(this.releaseValue as (value: T) => T, this.releaseError),
      (error: unknown) => {
        // Here, in the caller's continuation, rather than in the queue timer's callback.
        if (error instanceof BulkheadRejectedError)
          policyEvent('bulkhead.rejected', () => ({ ...this.attributes, 'bulwark.bulkhead.reason': error.reason }));
        throw error;
      },
    );
  }

  private readonly releaseValue = (value: unknown): unknown => {
    this.release();
    return value;
  };

  private readonly releaseError = (error: unknown): never => {
    this.release();
    throw error;
  };

  /** Hands the freed slot straight to the first waiter, so no newcomer can take it first. */
  private release(): void {
    const next = this.head;
    if (next === undefined) {
      this.running -= 1;
      return;
    }
    this.leave(next);
    next.resolve();
  }

  private enqueue(waiter: Waiter): void {
    waiter.waiting = true;
    waiter.previous = this.tail;
    if (this.tail) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
    this.queued += 1;
  }

  leave(waiter: Waiter): void {
    if (!waiter.waiting) return;
    waiter.waiting = false;
    if (waiter.previous) waiter.previous.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.previous = waiter.previous;
    else this.tail = waiter.previous;
    waiter.previous = undefined;
    waiter.next = undefined;
    this.queued -= 1;
    this.deadlines?.remove(waiter);
    waiter.signal?.removeEventListener('abort', waiter);
    waiter.signal = undefined;
  }

  rejected(reason: BulkheadRejectionReason): void {
    countBulkheadRejection(this.attributes['bulwark.bulkhead.name'], reason);
    if (this.rejectedEmitter.hasListeners) this.rejectedEmitter.emit({ reason });
  }

  snapshot(): BulkheadSnapshot {
    return {
      running: this.running,
      queued: this.queued,
      maxConcurrent: this.maxConcurrent,
      maxQueue: this.maxQueue,
    };
  }
}

/**
 * Limits how many calls run at once (`maxConcurrent`); up to `maxQueue` more wait in FIFO order,
 * each for at most `queueTimeoutMs`; the rest are rejected with {@link BulkheadRejectedError}. A
 * queued caller whose signal aborts leaves the queue at once.
 *
 * @throws {@link InvalidOptionsError} listing every invalid option.
 * @example
 * ```ts
 * const reports = bulkhead({ maxConcurrent: 4, maxQueue: 100, queueTimeoutMs: 5_000 });
 * const pdf = await reports.execute(({ signal }) => renderReport(id, { signal }), { signal: request.signal });
 * ```
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  validateBulkheadOptions(options);
  return new BulkheadImpl(options);
}
