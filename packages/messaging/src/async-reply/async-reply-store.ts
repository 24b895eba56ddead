/** Where an operation accepted by `asyncReply` stands. */
export type AsyncReplyStatus = 'pending' | 'running' | 'succeeded' | 'failed';

/** What is kept of an error thrown by a handler: enough to report it, never its stack. */
export interface AsyncReplyErrorInfo {
  readonly name: string;
  readonly message: string;
  /** The error's `code` when it has a string one (e.g. `CLAIM_CHECK_INTEGRITY`). */
  readonly code?: string;
}

/**
 * One operation as an {@link AsyncReplyStore} keeps it. Times are ms since the epoch on the
 * `asyncReply` clock (stores never read their own clock, so every store agrees with it).
 */
export interface AsyncReplyRecord {
  readonly id: string;
  /** The handler kind, e.g. `report.sales`. */
  readonly kind: string;
  readonly status: AsyncReplyStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the latest attempt started. */
  readonly startedAt?: number;
  /** When it succeeded or failed. */
  readonly finishedAt?: number;
  /** After this the record reads as missing and may be swept. */
  readonly expiresAt: number;
  /** How many times a run started (a run whose lease ran out is started again). */
  readonly attempts: number;
  /** Token of the current (or last) run; only that run may finish the record. */
  readonly runId?: string;
  /** While `running`: until when the run owns the record; after it another worker may take it over. */
  readonly leaseUntil?: number;
  /** When `succeeded`: the result as JSON text, or the JSON of a claim when {@link AsyncReplyRecord.resultClaimed}. */
  readonly result?: string;
  /** The result went through the claim check: {@link AsyncReplyRecord.result} is the claim. */
  readonly resultClaimed?: boolean;
  /** When `failed`. */
  readonly error?: AsyncReplyErrorInfo;
}

/** What {@link AsyncReplyStore.create} writes. */
export interface NewAsyncReplyRecord {
  readonly id: string;
  readonly kind: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Arguments of {@link AsyncReplyStore.start}. */
export interface StartAsyncReplyRun {
  readonly now: number;
  readonly runId: string;
  readonly leaseUntil: number;
}

/** Arguments of {@link AsyncReplyStore.finish}. */
export type FinishAsyncReplyRun = {
  readonly now: number;
  readonly runId: string;
  /** The record's new expiry (results are kept until then). */
  readonly expiresAt: number;
} & (
  | { readonly status: 'succeeded'; readonly result: string; readonly resultClaimed: boolean }
  | { readonly status: 'failed'; readonly error: AsyncReplyErrorInfo }
);

/** Options of every {@link AsyncReplyStore} call. */
export interface AsyncReplyStoreCallOptions {
  signal?: AbortSignal;
}

/**
 * Keeps the state of operations accepted by `asyncReply` (the async request-reply pattern:
 * 202 Accepted + a status URL).
 *
 * Guarantees every implementation gives (checked by `asyncReplyStoreConformance` in
 * `@bulwark/messaging/testing`):
 * - `create` inserts a `pending` record and returns `false` when a live record has that id.
 * - `start` is a compare-and-set: it moves `pending` (or `running` whose lease ran out) to
 *   `running` with a new `runId`, increments `attempts` and returns the record; otherwise it
 *   returns `undefined`. Of concurrent starts, exactly one wins.
 * - `finish` moves `running` to `succeeded`/`failed` only when `runId` matches (a run whose lease
 *   was taken over cannot overwrite its successor) and returns whether it did.
 * - A record whose `expiresAt` has passed reads as missing (`get` → `undefined`); `sweepExpired`
 *   deletes such records (stores with native expiry, such as Redis, may return 0).
 * - `close()` never closes a client the user passed in.
 *
 * Implementations: `memoryAsyncReplyStore()` (core), `redisAsyncReplyStore(redis)`
 * (`/redis`), `postgresAsyncReplyStore(pool)` (`/postgres`).
 */
export interface AsyncReplyStore {
  create(record: NewAsyncReplyRecord, options?: AsyncReplyStoreCallOptions): Promise<boolean>;
  get(id: string, now: number, options?: AsyncReplyStoreCallOptions): Promise<AsyncReplyRecord | undefined>;
  start(
    id: string,
    run: StartAsyncReplyRun,
    options?: AsyncReplyStoreCallOptions,
  ): Promise<AsyncReplyRecord | undefined>;
  finish(id: string, outcome: FinishAsyncReplyRun, options?: AsyncReplyStoreCallOptions): Promise<boolean>;
  /** Deletes expired records; returns how many. */
  sweepExpired(now: number, options?: AsyncReplyStoreCallOptions): Promise<number>;
  close(): Promise<void>;
}
