import { type EventSubscription, NamedEventEmitter, systemClock } from '@bulwark/resilience';
import { InvalidMessagingValueError } from '../errors/messaging-error.js';
import {
  IdempotencyConflictError,
  IdempotencyKeyReuseError,
  IdempotentReplayedError,
  type StoredError,
} from './idempotency-errors.js';
import type { IdempotencyEvents } from './idempotency-events.js';
import {
  defaultStoreError,
  type IdempotencyOptions,
  idempotencyDefaults,
  jsonOutcomeSerializer,
  validateIdempotencyOptions,
} from './idempotency-options.js';
import { renewLeaseWhileRunning } from './lease-renewal.js';

/** What the work passed to {@link Idempotency.run} receives. */
export interface IdempotentWorkContext {
  /** The caller's signal (or one that never aborts when the caller gave none). */
  readonly signal: AbortSignal;
  /** The key as the caller passed it. */
  readonly key: string;
}

/** Options of one {@link Idempotency.run} call. */
export interface IdempotentRunOptions {
  signal?: AbortSignal;
}

/** The answer of {@link Idempotency.execute}: the value, and whether it was replayed. */
export interface IdempotentOutcome<T> {
  readonly value: T;
  /** True when the value comes from a stored outcome and the work did not run. */
  readonly replayed: boolean;
}

/** Runs work at most once per key while its outcome is kept. Made by {@link idempotency}. */
export interface Idempotency {
  /**
   * Runs `work` once for `key`, or returns the outcome stored by an earlier call with the same
   * key and fingerprint.
   *
   * @throws IdempotencyKeyReuseError when `key` was used with another fingerprint.
   * @throws IdempotencyConflictError when another call with `key` is still running.
   * @throws IdempotentReplayedError when the stored outcome is a remembered error.
   * @throws whatever `work` throws (the key is released unless `rememberError` keeps it).
   */
  run<T>(
    key: string,
    fingerprint: string,
    work: (context: IdempotentWorkContext) => Promise<T> | T,
    options?: IdempotentRunOptions,
  ): Promise<T>;
  /** Like {@link Idempotency.run}, and says whether the value was replayed. */
  execute<T>(
    key: string,
    fingerprint: string,
    work: (context: IdempotentWorkContext) => Promise<T> | T,
    options?: IdempotentRunOptions,
  ): Promise<IdempotentOutcome<T>>;
  /** Forgets the key's record so the next call runs the work again. */
  forget(key: string, options?: IdempotentRunOptions): Promise<void>;
  /** Listens to an event; returns the function that stops listening. */
  on<Name extends keyof IdempotencyEvents>(
    name: Name,
    listener: (event: IdempotencyEvents[Name]) => void,
  ): EventSubscription;
}

// The first character of a stored outcome says what follows: a serialized value, nothing
// (`undefined`), or a remembered error as JSON.
const VALUE = 'v';
const UNDEFINED = 'u';
const ERROR = 'e';

/**
 * Makes work idempotent: the first call with a key runs it and stores its outcome, repeats with
 * the same key and fingerprint get that outcome without running it again.
 *
 * The in-progress lock is a lease of `lockTtlMs`: if the process running the work dies, the key
 * can be taken over once the lease runs out. An error thrown by the work releases the key (so a
 * retry runs it again) unless `rememberError` says to store it. Outcomes expire after `ttlMs`.
 *
 * @example
 * ```ts
 * const payments = idempotency({ store: memoryIdempotencyStore(), ttlMs: 86_400_000, lockTtlMs: 30_000 });
 * const receipt = await payments.run(request.key, fingerprint(request.body), ({ signal }) =>
 *   charge(request.body, { signal }),
 * );
 * ```
 */
export function idempotency(options: IdempotencyOptions): Idempotency {
  validateIdempotencyOptions(options);
  const { store } = options;
  const ttlMs = options.ttlMs ?? idempotencyDefaults.ttlMs;
  const lockTtlMs = options.lockTtlMs ?? idempotencyDefaults.lockTtlMs;
  const renewLease = options.renewLease ?? idempotencyDefaults.renewLease;
  const rememberError = options.rememberError ?? (() => false);
  const storeError = options.storeError ?? defaultStoreError;
  const serializer = options.serializer ?? jsonOutcomeSerializer;
  const clock = options.clock ?? systemClock;
  const prefix = options.namespace ? `${options.namespace}:` : '';
  const emitter = new NamedEventEmitter<IdempotencyEvents>();

  const decode = (key: string, outcome: string): unknown => {
    const tag = outcome[0];
    if (tag === UNDEFINED) return undefined;
    if (tag === ERROR) throw new IdempotentReplayedError(key, JSON.parse(outcome.slice(1)) as StoredError);
    return serializer.deserialize(outcome.slice(1));
  };

  const encodeValue = (value: unknown): string => {
    if (value === undefined) return UNDEFINED;
    const text = serializer.serialize(value);
    return text === undefined ? UNDEFINED : VALUE + text;
  };

  const keepLease = (storeKey: string, leaseToken: string): (() => void) =>
    renewLease ? renewLeaseWhileRunning(store, storeKey, leaseToken, lockTtlMs, clock) : () => {};

  const finish = async (key: string, storeKey: string, leaseToken: string, outcome: string, startedAt: number) => {
    try {
      const stored = await store.complete(storeKey, leaseToken, outcome, ttlMs);
      if (stored) emitter.emit('idempotency-completed', { key, durationMs: clock.now() - startedAt });
      else emitter.emit('idempotency-outcome-lost', { key, reason: 'lease-lost' });
    } catch (error) {
      // The work's effect happened: report the lost outcome rather than fail a call that did its job.
      emitter.emit('idempotency-outcome-lost', { key, reason: 'store-failed', error });
    }
  };

  const execute = async <T>(
    key: string,
    fingerprintValue: string,
    work: (context: IdempotentWorkContext) => Promise<T> | T,
    runOptions?: IdempotentRunOptions,
  ): Promise<IdempotentOutcome<T>> => {
    if (typeof key !== 'string' || key === '')
      throw new InvalidMessagingValueError('idempotency key', 'must be a non-empty string');
    const callerSignal = runOptions?.signal;
    callerSignal?.throwIfAborted();
    const storeKey = prefix + key;
    const begun = await store.begin(storeKey, fingerprintValue, lockTtlMs, callerSignal && { signal: callerSignal });
    if (begun.kind === 'existing') {
      const { record } = begun;
      if (record.fingerprint !== fingerprintValue) {
        emitter.emit('idempotency-key-reused', { key });
        throw new IdempotencyKeyReuseError(key);
      }
      if (record.status === 'in-progress') {
        emitter.emit('idempotency-conflicted', { key, leaseExpiresAt: record.leaseExpiresAt });
        throw new IdempotencyConflictError(key, record.leaseExpiresAt);
      }
      emitter.emit('idempotency-replayed', { key });
      return { value: decode(key, record.outcome) as T, replayed: true };
    }
    const { leaseToken } = begun;
    const startedAt = clock.now();
    emitter.emit('idempotency-acquired', { key });
    const stopRenewing = keepLease(storeKey, leaseToken);
    let value: T;
    try {
      // A signal of our own only if the work asks for one: AbortControllers are not free.
      let ownSignal: AbortSignal | undefined;
      value = await work({
        key,
        get signal() {
          ownSignal ??= callerSignal ?? new AbortController().signal;
          return ownSignal;
        },
      });
    } catch (error) {
      stopRenewing();
      let remember = false;
      try {
        remember = rememberError(error);
      } catch {
        // A failing predicate must not hide the work's error nor keep the key: release it.
      }
      if (remember) {
        await finish(key, storeKey, leaseToken, ERROR + JSON.stringify(storeError(error)), startedAt);
      } else {
        emitter.emit('idempotency-released', { key, error });
        // If the release itself fails the lease still runs out after lockTtlMs; the work's error matters more.
        await store.release(storeKey, leaseToken).catch(() => false);
      }
      throw error;
    }
    stopRenewing();
    let outcome: string;
    try {
      outcome = encodeValue(value);
    } catch (error) {
      await store.release(storeKey, leaseToken).catch(() => false);
      throw error;
    }
    await finish(key, storeKey, leaseToken, outcome, startedAt);
    return { value, replayed: false };
  };

  return {
    execute,
    async run(key, fingerprintValue, work, runOptions) {
      return (await execute(key, fingerprintValue, work, runOptions)).value;
    },
    async forget(key, runOptions) {
      await store.delete(prefix + key, runOptions);
    },
    on: (name, listener) => emitter.on(name, listener),
  };
}
