import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@bulwark/resilience';
import { IdempotencyStoreClosedError } from './idempotency-errors.js';
import type { BeginResult, IdempotencyRecord, IdempotencyStore } from './idempotency-store.js';
import { assertIdempotencyValues } from './idempotency-values.js';

/** Options of {@link memoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** The source of time for leases and expiry. @defaultValue `systemClock` */
  clock?: Clock;
  /** Makes lease tokens; must return unguessable, unique strings. @defaultValue `crypto.randomUUID` */
  generateToken?: () => string;
  /**
   * Expired records are dropped when touched, and each write also checks this many of the oldest
   * records, so the map does not grow with keys nobody asks for again while no write ever pays
   * for a scan of the whole map. @defaultValue 4
   */
  sweepPerWrite?: number;
}

/** The in-memory store: an {@link IdempotencyStore} you can also sweep and measure. */
export interface MemoryIdempotencyStore extends IdempotencyStore {
  /** Drops every expired record now; returns how many were dropped. */
  sweep(): number;
  /** How many records (live or not yet swept) the store holds. */
  readonly size: number;
  [Symbol.asyncDispose](): Promise<void>;
}

type StoredRecord =
  | { status: 'in-progress'; fingerprint: string; leaseToken: string; leaseExpiresAt: number }
  | { status: 'completed'; fingerprint: string; outcome: string; expiresAt: number };

/**
 * The in-memory {@link IdempotencyStore}: for one process, for tests, and the reference the
 * other adapters are checked against. Atomic because every method does its work synchronously
 * before its promise settles.
 *
 * @example
 * ```ts
 * const store = memoryIdempotencyStore();
 * const payments = idempotency({ store, ttlMs: 86_400_000, lockTtlMs: 30_000 });
 * ```
 */
export function memoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): MemoryIdempotencyStore {
  const clock = options.clock ?? systemClock;
  const generateToken = options.generateToken ?? randomUUID;
  const sweepPerWrite = options.sweepPerWrite ?? 4;
  const records = new Map<string, StoredRecord>();
  // A live iterator over the map (insertion order), advanced a few entries per write.
  let cursor: Iterator<[string, StoredRecord]> = records.entries();
  let closed = false;

  const isLive = (record: StoredRecord, now: number): boolean =>
    record.status === 'in-progress' ? record.leaseExpiresAt > now : record.expiresAt > now;

  const live = (key: string): StoredRecord | undefined => {
    const record = records.get(key);
    if (!record) return undefined;
    if (isLive(record, clock.now())) return record;
    records.delete(key);
    return undefined;
  };

  const sweep = (): number => {
    const now = clock.now();
    let dropped = 0;
    for (const [key, record] of records) {
      if (!isLive(record, now)) {
        records.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  };

  const wrote = () => {
    const now = clock.now();
    for (let checked = 0; checked < sweepPerWrite; checked++) {
      let next = cursor.next();
      if (next.done) {
        cursor = records.entries();
        next = cursor.next();
        if (next.done) return;
      }
      const [key, record] = next.value;
      if (!isLive(record, now)) records.delete(key);
    }
  };

  const check = (signal: AbortSignal | undefined) => {
    if (closed) throw new IdempotencyStoreClosedError('memoryIdempotencyStore');
    signal?.throwIfAborted();
  };

  const view = (record: StoredRecord): IdempotencyRecord =>
    record.status === 'in-progress'
      ? {
          status: 'in-progress',
          fingerprint: record.fingerprint,
          leaseToken: record.leaseToken,
          leaseExpiresAt: record.leaseExpiresAt,
        }
      : { status: 'completed', fingerprint: record.fingerprint, outcome: record.outcome, expiresAt: record.expiresAt };

  return {
    async begin(key, fingerprint, leaseMs, callOptions): Promise<BeginResult> {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, fingerprint });
      const existing = live(key);
      if (existing) return { kind: 'existing', record: view(existing) };
      const leaseToken = generateToken();
      records.set(key, { status: 'in-progress', fingerprint, leaseToken, leaseExpiresAt: clock.now() + leaseMs });
      wrote();
      return { kind: 'acquired', leaseToken };
    },
    async complete(key, leaseToken, outcome, ttlMs, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken, outcome });
      const record = live(key);
      if (record?.status !== 'in-progress' || record.leaseToken !== leaseToken) return false;
      records.set(key, {
        status: 'completed',
        fingerprint: record.fingerprint,
        outcome,
        expiresAt: clock.now() + ttlMs,
      });
      wrote();
      return true;
    },
    async release(key, leaseToken, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken });
      const record = live(key);
      if (record?.status !== 'in-progress' || record.leaseToken !== leaseToken) return false;
      records.delete(key);
      return true;
    },
    async renew(key, leaseToken, leaseMs, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken });
      const record = live(key);
      if (record?.status !== 'in-progress' || record.leaseToken !== leaseToken) return false;
      record.leaseExpiresAt = clock.now() + leaseMs;
      return true;
    },
    async get(key, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key });
      const record = live(key);
      return record ? view(record) : undefined;
    },
    async delete(key, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key });
      records.delete(key);
    },
    sweep,
    get size() {
      return records.size;
    },
    async close() {
      closed = true;
      records.clear();
    },
    async [Symbol.asyncDispose]() {
      closed = true;
      records.clear();
    },
  };
}
