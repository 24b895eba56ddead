import { type Clock, OptionsValidator, systemClock } from '@bulwark/resilience';
import { type RedisScript, redisScript, runRedisScript } from '@bulwark/resilience/internal/redis';
import type { Redis } from 'ioredis';
import type {
  AsyncReplyErrorInfo,
  AsyncReplyRecord,
  AsyncReplyStatus,
  AsyncReplyStore,
} from '../async-reply/async-reply-store.js';
import { assertAsyncReplyValues } from '../async-reply/async-reply-values.js';
import createLua from './lua/async-reply-create.lua';
import finishLua from './lua/async-reply-finish.lua';
import startLua from './lua/async-reply-start.lua';
import { redisStoreCall } from './redis-call.js';

/** Options of {@link redisAsyncReplyStore}. */
export interface RedisAsyncReplyStoreOptions {
  /** Prepended to every key. @defaultValue `'bulwark:async-reply:'` */
  keyPrefix?: string;
  /**
   * Longest wait for Redis to answer one call; past it the call rejects with a `MessagingError` of
   * code `REDIS_TIMEOUT` (other failures: `REDIS_FAILED`, the ioredis error as `cause`).
   * @defaultValue 5_000
   */
  timeoutMs?: number;
  /** Times the `timeoutMs` waits. @defaultValue `systemClock` */
  clock?: Clock;
}

/** The defaults of {@link RedisAsyncReplyStoreOptions}. */
export const redisAsyncReplyStoreDefaults = { keyPrefix: 'bulwark:async-reply:', timeoutMs: 5_000 } as const;

const scripts = {
  create: redisScript(createLua),
  start: redisScript(startLua),
  finish: redisScript(finishLua),
} as const;

const optionalNumber = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

function toRecord(id: string, hash: Record<string, string>): AsyncReplyRecord {
  const record: { -readonly [K in keyof AsyncReplyRecord]: AsyncReplyRecord[K] } = {
    id,
    kind: hash.kind ?? '',
    status: (hash.status ?? 'pending') as AsyncReplyStatus,
    createdAt: Number(hash.created_at),
    updatedAt: Number(hash.updated_at),
    expiresAt: Number(hash.expires_at),
    attempts: Number(hash.attempts ?? 0),
  };
  const startedAt = optionalNumber(hash.started_at);
  const finishedAt = optionalNumber(hash.finished_at);
  const leaseUntil = optionalNumber(hash.lease_until);
  if (startedAt !== undefined) record.startedAt = startedAt;
  if (finishedAt !== undefined) record.finishedAt = finishedAt;
  if (leaseUntil !== undefined) record.leaseUntil = leaseUntil;
  if (hash.run_id !== undefined) record.runId = hash.run_id;
  if (hash.result !== undefined) {
    record.result = hash.result;
    record.resultClaimed = hash.result_claimed === '1';
  }
  if (hash.error !== undefined) record.error = JSON.parse(hash.error) as AsyncReplyErrorInfo;
  return record;
}

/** Turns a flat HGETALL array reply into an object. */
function pairs(reply: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let index = 0; index + 1 < reply.length; index += 2) hash[reply[index] as string] = reply[index + 1] as string;
  return hash;
}

/**
 * The Redis {@link AsyncReplyStore}, over the user's `ioredis` client (never closed by the
 * store). One hash per operation; `create`, `start` and `finish` are one script call each, so
 * the start is an atomic compare-and-set. Redis expires records itself (`PEXPIRE` set to the
 * record's remaining lifetime), so `sweepExpired` has nothing to do and returns 0.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';

 * import { redisAsyncReplyStore } from '@bulwark/messaging/redis';

 * const replies = asyncReply({ store: redisAsyncReplyStore(new Redis()) });
 * ```
 */
export function redisAsyncReplyStore(
  redis: Redis,
  options: RedisAsyncReplyStoreOptions = {},
): AsyncReplyStore & { [Symbol.asyncDispose](): Promise<void> } {
  const keyPrefix = options.keyPrefix ?? redisAsyncReplyStoreDefaults.keyPrefix;
  const validator = new OptionsValidator('redisAsyncReplyStore');
  if (!redis || typeof (redis as Partial<Redis>).defineCommand !== 'function')
    validator.report('redis must be an ioredis client');
  if (typeof keyPrefix !== 'string') validator.report('keyPrefix must be a string');
  const timeoutMs = options.timeoutMs ?? redisAsyncReplyStoreDefaults.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) validator.report('timeoutMs must be a positive integer');
  validator.throwIfInvalid();
  const clock = options.clock ?? systemClock;
  const call = (name: keyof typeof scripts, id: string, ...args: (string | number)[]) =>
    redisStoreCall(
      clock,
      timeoutMs,
      `redisAsyncReplyStore ${name} "${id}"`,
      runRedisScript(redis, scripts[name] as RedisScript, [keyPrefix + id], args),
    );
  const ttlOf = (expiresAt: number, now: number) => Math.max(1, Math.ceil(expiresAt - now));

  const store: AsyncReplyStore & { [Symbol.asyncDispose](): Promise<void> } = {
    async create(record, callOptions) {
      callOptions?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id: record.id, kind: record.kind });
      const reply = await call(
        'create',
        record.id,
        record.createdAt,
        record.kind,
        record.expiresAt,
        ttlOf(record.expiresAt, record.createdAt),
      );
      return reply === 1;
    },
    async get(id, now, callOptions) {
      callOptions?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id });
      const hash = await redisStoreCall(
        clock,
        timeoutMs,
        `redisAsyncReplyStore get "${id}"`,
        redis.hgetall(keyPrefix + id),
      );
      if (!hash.status) return undefined;
      const record = toRecord(id, hash);
      return record.expiresAt > now ? record : undefined;
    },
    async start(id, run, callOptions) {
      callOptions?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id, runId: run.runId });
      const reply = (await call('start', id, run.now, run.runId, run.leaseUntil)) as string[] | null;
      return reply ? toRecord(id, pairs(reply)) : undefined;
    },
    async finish(id, outcome, callOptions) {
      callOptions?.signal?.throwIfAborted();
      assertAsyncReplyValues({ id, outcome });
      const payload = outcome.status === 'succeeded' ? outcome.result : JSON.stringify(outcome.error);
      const claimed = outcome.status === 'succeeded' && outcome.resultClaimed ? '1' : '0';
      const reply = await call(
        'finish',
        id,
        outcome.now,
        outcome.runId,
        outcome.status,
        outcome.expiresAt,
        ttlOf(outcome.expiresAt, outcome.now),
        payload,
        claimed,
      );
      return reply === 1;
    },
    async sweepExpired(_now, callOptions) {
      callOptions?.signal?.throwIfAborted();
      return 0;
    },
    async close() {},
    [Symbol.asyncDispose]() {
      return store.close();
    },
  };
  return store;
}
