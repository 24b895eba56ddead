import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { traceRateLimitDecision } from '../telemetry/resilience-telemetry.js';
import type { RateLimitAlgorithm } from './algorithms.js';
import { memoryRateLimitStore } from './memory-rate-limit-store.js';
import { RateLimitedError, RateLimitStoreError, type RateLimitStoreErrorCode } from './rate-limit-errors.js';
import type { RateLimitDecision, RateLimitStore } from './rate-limit-store.js';
import { type RateLimiterOptions, rateLimiterDefaults, validateRateLimiterOptions } from './rate-limiter-options.js';

/** Options of {@link RateLimiter.consume}. */
export interface ConsumeOptions {
  /**
   * Units this call takes, an integer from 1 to the algorithm's limit.
   * @defaultValue 1
   */
  readonly cost?: number;
  /** Rejects the call with `signal.reason` when it aborts. */
  readonly signal?: AbortSignal;
}

/** Payloads of the {@link RateLimiter} events. */
export interface RateLimiterEvents {
  /** A call was refused because its key is over the limit. */
  'rate-limit-rejected': { readonly key: string; readonly decision: RateLimitDecision };
  /** The store failed or timed out; the call rejected with `error`. */
  'rate-limit-store-failed': { readonly key: string; readonly error: RateLimitStoreError };
}

/** A rate limiter: one algorithm on one store, keyed by any string (user id, IP, API key). */
export interface RateLimiter {
  /** The algorithm, normalised; `algorithm.limit` is the capacity (e.g. for `RateLimit-Limit`). */
  readonly algorithm: RateLimitAlgorithm;
  /**
   * Takes `cost` units from `key` if available. Resolves the decision either way; rejects with
   * `RateLimitStoreError` when the store fails or exceeds `timeoutMs`, with `InvalidOptionsError`
   * for an empty key or a cost outside 1..limit, and with `signal.reason` when aborted.
   */
  consume(key: string, options?: ConsumeOptions): Promise<RateLimitDecision>;
  /** Like {@link RateLimiter.consume}, but rejects with {@link RateLimitedError} when refused. */
  consumeOrThrow(key: string, options?: ConsumeOptions): Promise<RateLimitDecision>;
  /** The state of `key` without taking anything (see {@link RateLimitStore.peek}). */
  peek(key: string, options?: { readonly signal?: AbortSignal }): Promise<RateLimitDecision>;
  /** Gives `key` its full limit back. */
  reset(key: string, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof RateLimiterEvents>(event: E, listener: (payload: RateLimiterEvents[E]) => void): () => void;
  /** Rejects later calls; closes the store only if the limiter created it. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** One store call waiting for its answer or its deadline. */
interface PendingCall {
  deadline: number;
  settled: boolean;
  reject: (error: unknown) => void;
  key: string;
  next: PendingCall | undefined;
}

/**
 * Rejects store calls still pending at their deadline, with one timer for all of them: every call
 * has the same timeout, so deadlines arrive in order and a FIFO list is enough.
 */
class DeadlineQueue {
  private head: PendingCall | undefined;
  private tail: PendingCall | undefined;
  private timer: TimerHandle | undefined;
  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onTimeout: (call: PendingCall) => void,
  ) {}

  add(call: PendingCall): void {
    if (this.tail === undefined) this.head = call;
    else this.tail.next = call;
    this.tail = call;
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.fire, this.timeoutMs);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    let call = this.head;
    while (call !== undefined && (call.settled || call.deadline <= now)) {
      if (!call.settled) {
        call.settled = true;
        this.onTimeout(call);
      }
      call = call.next;
    }
    this.head = call;
    if (call === undefined) this.tail = undefined;
    else this.timer = this.clock.setTimeout(this.fire, Math.max(1, call.deadline - now));
  };

  /** Marks `call` answered; drops answered calls from the head so the list stays short. */
  settle(call: PendingCall): void {
    call.settled = true;
    while (this.head?.settled) this.head = this.head.next;
    if (this.head === undefined) this.tail = undefined;
  }

  clear(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Creates a rate limiter.
 *
 * @example
 * ```ts
 * import { rateLimiter, slidingWindow } from '@bulwark/resilience';
 *
 * const limiter = rateLimiter({ algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }) });
 * const decision = await limiter.consume(`user:${userId}`);
 * if (!decision.allowed) reply.status(429).header('Retry-After', Math.ceil(decision.retryAfterMs / 1000));
 * ```
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiter {
  validateRateLimiterOptions(options);
  const algorithm = options.algorithm;
  const ownsStore = options.store === undefined;
  const store = options.store ?? memoryRateLimitStore({ clock: options.clock });
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? rateLimiterDefaults.timeoutMs;
  const prefix = options.name === undefined ? '' : `${options.name}:`;
  const rejectedListeners = new Set<(payload: RateLimiterEvents['rate-limit-rejected']) => void>();
  const failedListeners = new Set<(payload: RateLimiterEvents['rate-limit-store-failed']) => void>();
  let closed = false;

  const storeFailed = (key: string, error: unknown, code: RateLimitStoreErrorCode): RateLimitStoreError => {
    const wrapped =
      error instanceof RateLimitStoreError
        ? error
        : new RateLimitStoreError(
            code,
            code === 'RATE_LIMIT_STORE_TIMEOUT'
              ? `Rate limit store did not answer within ${timeoutMs} ms`
              : `Rate limit store failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
    if (failedListeners.size > 0) for (const listener of failedListeners) listener({ key, error: wrapped });
    return wrapped;
  };

  const deadlines = new DeadlineQueue(clock, timeoutMs, (call) =>
    call.reject(storeFailed(call.key, undefined, 'RATE_LIMIT_STORE_TIMEOUT')),
  );

  const checkKey = (key: string, subject: string): void => {
    if (closed) throw new InvalidOptionsError(subject, ['the rate limiter is closed']);
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidOptionsError(subject, [`key must be a non-empty string, got ${JSON.stringify(key)}`]);
  };

  /** Runs a store call under the timeout and the caller's signal, wrapping backend failures. */
  const guard = <T>(key: string, work: Promise<T>, signal: AbortSignal | undefined): Promise<T> => {
    if (store.inProcess && signal === undefined) return work;
    return new Promise<T>((resolve, reject) => {
      const call: PendingCall | undefined = store.inProcess
        ? undefined
        : { deadline: clock.now() + timeoutMs, settled: false, reject, key, next: undefined };
      const onAbort = (): void => {
        if (call) deadlines.settle(call);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (call) deadlines.add(call);
      work.then(
        (value) => {
          signal?.removeEventListener('abort', onAbort);
          if (call) {
            if (call.settled) return;
            deadlines.settle(call);
          }
          resolve(value);
        },
        (error: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          if (call) {
            if (call.settled) return;
            deadlines.settle(call);
          }
          if (signal?.aborted && error === signal.reason) reject(error);
          else reject(storeFailed(key, error, 'RATE_LIMIT_STORE_FAILED'));
        },
      );
    });
  };

  const consume = (key: string, consumeOptions?: ConsumeOptions): Promise<RateLimitDecision> => {
    try {
      checkKey(key, 'rateLimiter.consume');
      const cost = consumeOptions?.cost ?? 1;
      if (!Number.isInteger(cost) || cost < 1 || cost > algorithm.limit)
        throw new InvalidOptionsError('rateLimiter.consume', [
          `cost must be an integer from 1 to the limit ${algorithm.limit}, got ${String(cost)}`,
        ]);
      const signal = consumeOptions?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      const storeKey = prefix === '' ? key : prefix + key;
      const work = traceRateLimitDecision(
        options.name,
        guard(
          key,
          callStore(() => store.consume(storeKey, algorithm, cost, consumeOptions)),
          signal,
        ),
      );
      if (rejectedListeners.size === 0) return work;
      return work.then((decision) => {
        if (!decision.allowed) for (const listener of rejectedListeners) listener({ key, decision });
        return decision;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  };

  return {
    algorithm,
    consume,
    async consumeOrThrow(key, consumeOptions) {
      const decision = await consume(key, consumeOptions);
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterMs, key);
      return decision;
    },
    async peek(key, peekOptions) {
      checkKey(key, 'rateLimiter.peek');
      peekOptions?.signal?.throwIfAborted();
      return guard(
        key,
        callStore(() => store.peek(prefix + key, algorithm, peekOptions)),
        peekOptions?.signal,
      );
    },
    async reset(key, resetOptions) {
      checkKey(key, 'rateLimiter.reset');
      resetOptions?.signal?.throwIfAborted();
      return guard(
        key,
        callStore(() => store.reset(prefix + key, resetOptions)),
        resetOptions?.signal,
      );
    },
    on(event, listener) {
      const listeners = (event === 'rate-limit-rejected' ? rejectedListeners : failedListeners) as Set<typeof listener>;
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      closed = true;
      deadlines.clear();
      if (ownsStore) await store.close();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

/** Turns a synchronous throw of a third-party store into a rejection. */
function callStore<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}
