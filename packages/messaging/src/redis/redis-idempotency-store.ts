import { randomUUID } from 'node:crypto';
import { type Clock, OptionsValidator, systemClock } from '@bulwark/resilience';
import {
  pipelinedBatcher,
  pipelinedBatcherDefaults,
  type RedisScript,
  redisScript,
  runRedisScript,
} from '@bulwark/resilience/internal/redis';
import type { Cluster, Redis } from 'ioredis';
import { InvalidMessagingValueError, MessagingError } from '../errors/messaging-error.js';
import { IdempotencyStoreClosedError } from '../idempotency/idempotency-errors.js';
import type { BeginResult, IdempotencyRecord, IdempotencyStore } from '../idempotency/idempotency-store.js';
import { assertIdempotencyValues } from '../idempotency/idempotency-values.js';
import beginScript from './lua/idempotency-begin.lua';
import beginBatchScript from './lua/idempotency-begin-batch.lua';
import completeScript from './lua/idempotency-complete.lua';
import completeBatchScript from './lua/idempotency-complete-batch.lua';
import getScript from './lua/idempotency-get.lua';
import releaseScript from './lua/idempotency-release.lua';
import renewScript from './lua/idempotency-renew.lua';
import { redisStoreCall } from './redis-call.js';

/** Options of {@link redisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** Prepended to every key. @defaultValue `'bulwark:idempotency:'` */
  keyPrefix?: string;
  /** Turns Redis' remaining lifetimes into the timestamps of records. @defaultValue `systemClock` */
  clock?: Clock;
  /** Makes lease tokens; must return unguessable, unique strings. @defaultValue `crypto.randomUUID` */
  generateToken?: () => string;
  /**
   * Sends the `begin`s (and the `complete`s) of concurrent callers as a few script calls over
   * many keys, instead of one call each: every caller still waits for one round trip, but Redis and
   * the client do far less work per call under load. A lone caller is sent at once. Ignored (off)
   * for Redis Cluster, where keys of one call must share a slot.
   * @defaultValue true
   */
  batch?: boolean;
  /** The most keys in one batched call. @defaultValue 16 */
  maxBatchSize?: number;
  /**
   * The most batched calls of one kind (`begin` or `complete`) awaiting Redis at once; callers
   * arriving while all are out leave together, in batches, as calls come back.
   * @defaultValue 8
   */
  maxInFlight?: number;
  /**
   * Longest wait for Redis to answer one call; past it the call rejects with a `MessagingError` of
   * code `REDIS_TIMEOUT` (other failures: `REDIS_FAILED`, the ioredis error as `cause`). Give your
   * client ioredis' `socketTimeout` too, so a connection that went silent is made again.
   * @defaultValue 5_000
   */
  timeoutMs?: number;
}

/** The defaults of {@link RedisIdempotencyStoreOptions}. */
export const redisIdempotencyStoreDefaults = {
  keyPrefix: 'bulwark:idempotency:',
  batch: true,
  maxBatchSize: pipelinedBatcherDefaults.maxBatchSize,
  maxInFlight: pipelinedBatcherDefaults.maxInFlight,
  timeoutMs: 5_000,
} as const;

/** `{ value, pttl }` of a live record, as the scripts return it. */
type RecordReply = [string | null, number];

const scripts = {
  begin: redisScript(beginScript),
  beginBatch: redisScript(beginBatchScript),
  complete: redisScript(completeScript),
  completeBatch: redisScript(completeBatchScript),
  release: redisScript(releaseScript),
  renew: redisScript(renewScript),
  get: redisScript(getScript),
};

/**
 * The Redis {@link IdempotencyStore}, over the user's `ioredis` client (never closed by the store).
 * Each record is one string key whose Redis expiry is its lease or its ttl, so expired records vanish
 * by themselves and a crashed holder's key is free once its lease runs out. `begin` and
 * `complete` are one script call each (one round trip; `EVALSHA`, falling back to `EVAL` after a
 * `NOSCRIPT`); with `batch` (the default) concurrent callers share script calls under load
 * (the pipelined batcher the Redis stores share), each key still decided atomically and
 * in order. Works with Redis Cluster (without batching): a record is a single key.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';

 * import { redisIdempotencyStore } from '@bulwark/messaging/redis';

 * const store = redisIdempotencyStore(new Redis(process.env.REDIS_URL), { keyPrefix: 'shop:idem:' });
 * ```
 */
export function redisIdempotencyStore(
  redis: Redis | Cluster,
  options: RedisIdempotencyStoreOptions = {},
): IdempotencyStore & { [Symbol.asyncDispose](): Promise<void> } {
  const keyPrefix = options.keyPrefix ?? redisIdempotencyStoreDefaults.keyPrefix;
  const maxBatchSize = options.maxBatchSize ?? redisIdempotencyStoreDefaults.maxBatchSize;
  const maxInFlight = options.maxInFlight ?? redisIdempotencyStoreDefaults.maxInFlight;
  const validator = new OptionsValidator('redisIdempotencyStore');
  if (typeof keyPrefix !== 'string') validator.report('keyPrefix must be a string');
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) validator.report('maxBatchSize must be a positive integer');
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) validator.report('maxInFlight must be a positive integer');
  const timeoutMs = options.timeoutMs ?? redisIdempotencyStoreDefaults.timeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) validator.report('timeoutMs must be a positive integer');
  validator.throwIfInvalid();
  const clock = options.clock ?? systemClock;
  const generateToken = options.generateToken ?? randomUUID;
  const call = (which: RedisScript, key: string, ...args: (string | number)[]) =>
    redisStoreCall(
      clock,
      timeoutMs,
      `redisIdempotencyStore on "${key}"`,
      runRedisScript(redis, which, [keyPrefix + key], args, { direct: true }),
    );
  const batching = (options.batch ?? redisIdempotencyStoreDefaults.batch) && !redis.isCluster;
  const callBatch = (which: RedisScript, keys: readonly string[], args: readonly (string | number)[]) =>
    redisStoreCall(
      clock,
      timeoutMs,
      `redisIdempotencyStore on ${keys.length} keys`,
      runRedisScript(
        redis,
        which,
        keys.map((key) => keyPrefix + key),
        args,
        { direct: true },
      ),
    ) as Promise<unknown[]>;
  const beginBatcher = pipelinedBatcher<{ key: string; value: string; leaseMs: number }, 1 | RecordReply>({
    maxBatchSize,
    maxInFlight,
    // A lone item takes the one-key script, which is cheaper for Redis than a loop of one.
    send: async (items) => {
      const [only] = items;
      if (items.length === 1 && only)
        return [(await call(scripts.begin, only.key, only.value, only.leaseMs)) as 1 | RecordReply];
      return callBatch(
        scripts.beginBatch,
        items.map((item) => item.key),
        items.flatMap((item) => [item.value, item.leaseMs]),
      ) as Promise<(1 | RecordReply)[]>;
    },
  });
  const completeBatcher = pipelinedBatcher<{ key: string; leaseToken: string; outcome: string; ttlMs: number }, number>(
    {
      maxBatchSize,
      maxInFlight,
      send: async (items) => {
        const [only] = items;
        if (items.length === 1 && only)
          return [(await call(scripts.complete, only.key, only.leaseToken, only.outcome, only.ttlMs)) as number];
        return callBatch(
          scripts.completeBatch,
          items.map((item) => item.key),
          items.flatMap((item) => [item.leaseToken, item.outcome, item.ttlMs]),
        ) as Promise<number[]>;
      },
    },
  );

  const toRecord = (reply: RecordReply): IdempotencyRecord | undefined => {
    const [value, pttl] = reply;
    if (value === null) return undefined;
    // PTTL is -1 only for a key without expiry, which this store never writes.
    const until = clock.now() + Math.max(0, Number(pttl));
    if (value[0] === 'p') {
      const newline = value.indexOf('\n');
      return {
        status: 'in-progress',
        fingerprint: value.slice(newline + 1),
        leaseToken: value.slice(1, newline),
        leaseExpiresAt: until,
      };
    }
    // 'c' .. byteLength(fingerprint) .. ':' .. fingerprint .. outcome
    const colon = value.indexOf(':');
    const fingerprintBytes = Number(value.slice(1, colon));
    const rest = value.slice(colon + 1);
    const candidate = rest.slice(0, fingerprintBytes);
    if (Buffer.byteLength(candidate, 'utf8') === fingerprintBytes) {
      // All one-byte characters (the usual hex fingerprint): characters and bytes line up.
      return { status: 'completed', fingerprint: candidate, outcome: rest.slice(fingerprintBytes), expiresAt: until };
    }
    const bytes = Buffer.from(rest, 'utf8');
    return {
      status: 'completed',
      fingerprint: bytes.subarray(0, fingerprintBytes).toString('utf8'),
      outcome: bytes.subarray(fingerprintBytes).toString('utf8'),
      expiresAt: until,
    };
  };

  let closed = false;
  const check = (signal: AbortSignal | undefined) => {
    if (closed) throw new IdempotencyStoreClosedError('redisIdempotencyStore');
    signal?.throwIfAborted();
  };
  const store: IdempotencyStore & { [Symbol.asyncDispose](): Promise<void> } = {
    async begin(key, fingerprint, leaseMs, callOptions): Promise<BeginResult> {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, fingerprint });
      const leaseToken = generateToken();
      if (leaseToken.includes('\n')) throw new InvalidMessagingValueError('lease token', 'contains a newline');
      const value = `p${leaseToken}\n${fingerprint}`;
      const lease = Math.ceil(leaseMs);
      for (let attempt = 1; ; attempt++) {
        const reply = batching
          ? await beginBatcher({ key, value, leaseMs: lease })
          : ((await call(scripts.begin, key, value, lease)) as 1 | RecordReply);
        if (reply === 1) return { kind: 'acquired', leaseToken };
        const record = toRecord(reply as RecordReply);
        // No record: it expired between the failed SET NX and the GET; try again.
        if (record) return { kind: 'existing', record };
        if (attempt >= 5)
          throw new MessagingError(
            'REDIS_FAILED',
            `redisIdempotencyStore.begin could not settle "${key}" in ${attempt} attempts`,
          );
      }
    },
    async complete(key, leaseToken, outcome, ttlMs, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken, outcome });
      const ttl = Math.ceil(ttlMs);
      if (batching) return (await completeBatcher({ key, leaseToken, outcome, ttlMs: ttl })) === 1;
      return (await call(scripts.complete, key, leaseToken, outcome, ttl)) === 1;
    },
    async release(key, leaseToken, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken });
      return (await call(scripts.release, key, leaseToken)) === 1;
    },
    async renew(key, leaseToken, leaseMs, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key, leaseToken });
      return (await call(scripts.renew, key, leaseToken, Math.ceil(leaseMs))) === 1;
    },
    async get(key, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key });
      const reply = (await call(scripts.get, key)) as RecordReply | null;
      return reply ? toRecord(reply) : undefined;
    },
    async delete(key, callOptions) {
      check(callOptions?.signal);
      assertIdempotencyValues({ key });
      await redisStoreCall(clock, timeoutMs, `redisIdempotencyStore delete "${key}"`, redis.del(keyPrefix + key));
    },
    async close() {
      // The client belongs to the caller; the store holds nothing else.
      closed = true;
    },
    async [Symbol.asyncDispose]() {
      await store.close();
    },
  };
  return store;
}
