import type { Clock } from '@bulwark/resilience';
import { OptionsValidator } from '@bulwark/resilience';
import type { StoredError } from './idempotency-errors.js';
import type { IdempotencyStore } from './idempotency-store.js';

/** Turns outcomes into the opaque text a store keeps, and back. */
export interface OutcomeSerializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

/** Options of {@link idempotency}. */
export interface IdempotencyOptions {
  /** Where keys, leases and outcomes live: memory, Redis, PostgreSQL or your own adapter. */
  store: IdempotencyStore;
  /**
   * How long a completed outcome is kept and replayed. Stripe keeps keys for 24 hours.
   * @defaultValue 86_400_000 (24 hours)
   */
  ttlMs?: number;
  /**
   * How long the in-progress lease lasts. A caller that crashes mid-work holds the key this
   * long at most; then another caller takes it over and runs the work again. Pick more than the
   * longest the work can take, or turn on `renewLease`.
   * @defaultValue 30_000
   */
  lockTtlMs?: number;
  /**
   * Renews the lease every third of `lockTtlMs` while the work runs (stores with `renew` only),
   * so slow work keeps its key while a crashed process still loses it after `lockTtlMs`.
   * @defaultValue false
   */
  renewLease?: boolean;
  /**
   * Which thrown errors are stored and replayed (as {@link IdempotentReplayedError}) instead of
   * releasing the key for a retry. Remember only errors that a retry would repeat, such as a
   * declined card; never transient ones.
   * @defaultValue `() => false` (every error releases the key)
   */
  rememberError?: (error: unknown) => boolean;
  /** What of a remembered error is stored. @defaultValue its `name`, `message` and string `code` */
  storeError?: (error: unknown) => StoredError;
  /** How outcomes are turned into text. @defaultValue JSON */
  serializer?: OutcomeSerializer;
  /** Time for lease renewal and durations. @defaultValue `systemClock` */
  clock?: Clock;
  /** Prepended to every key (`<namespace>:<key>`) so several uses can share one store. */
  namespace?: string;
}

/** The defaults of {@link IdempotencyOptions}. */
export const idempotencyDefaults = {
  ttlMs: 86_400_000,
  lockTtlMs: 30_000,
  renewLease: false,
} as const;

export const jsonOutcomeSerializer: OutcomeSerializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text),
};

export function defaultStoreError(error: unknown): StoredError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? { name: error.name, message: error.message, code }
      : { name: error.name, message: error.message };
  }
  return { name: 'Error', message: String(error) };
}

const isPositiveInteger = (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value > 0;

/** Checks every option and reports every problem at once. */
export function validateIdempotencyOptions(options: IdempotencyOptions): void {
  const validator = new OptionsValidator('idempotency');
  const store = options?.store as Partial<IdempotencyStore> | undefined;
  if (!store || typeof store.begin !== 'function' || typeof store.complete !== 'function') {
    validator.report('store must be an IdempotencyStore (begin, complete, release, get, delete, close)');
  }
  if (options?.ttlMs !== undefined && !isPositiveInteger(options.ttlMs)) {
    validator.report(`ttlMs must be a positive integer of milliseconds, got ${String(options.ttlMs)}`);
  }
  if (options?.lockTtlMs !== undefined && !isPositiveInteger(options.lockTtlMs)) {
    validator.report(`lockTtlMs must be a positive integer of milliseconds, got ${String(options.lockTtlMs)}`);
  }
  if (options?.rememberError !== undefined && typeof options.rememberError !== 'function') {
    validator.report('rememberError must be a function (error) => boolean');
  }
  if (options?.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace === '')) {
    validator.report('namespace must be a non-empty string');
  }
  validator.throwIfInvalid();
}
