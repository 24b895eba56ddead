import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@bulwark/resilience';
import type { Redis } from 'ioredis';
import { InvalidMessagingOptionsError } from '../errors/messaging-error.js';
import type { BeginResult, IdempotencyRecord, IdempotencyStore } from '../idempotency/idempotency-store.js';
import beginScript from './lua/idempotency-begin.lua';
import completeScript from './lua/idempotency-complete.lua';
import getScript from './lua/idempotency-get.lua';
import releaseScript from './lua/idempotency-release.lua';
import renewScript from './lua/idempotency-renew.lua';

/** Options of {@link redisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** Prepended to every key. @defaultValue `'bulwark:idempotency:'` */
  keyPrefix?: string;
  /** Turns Redis' remaining lifetimes into the timestamps of records. @defaultValue `systemClock` */
  clock?: Clock;
  /** Makes lease tokens; must return unguessable, unique strings. @defaultValue `crypto.randomUUID` */
  generateToken?: () => string;
}

/** The defaults of {@link RedisIdempotencyStoreOptions}. */
export const redisIdempotencyStoreDefaults = { keyPrefix: 'bulwark:idempotency:' } as const;

type RecordReply = [string | null, string | null, string | null, string | null, number];

// Names under which the scripts are defined on the user's client. Versioned so that two library
// versions sharing a client never run each other's scripts.
const commands = {
  begin: 'bulwarkIdempotencyBeginV1',
  complete: 'bulwarkIdempotencyCompleteV1',
  release: 'bulwarkIdempotencyReleaseV1',
  renew: 'bulwarkIdempotencyRenewV1',
  get: 'bulwarkIdempotencyGetV1',
} as const;

type ScriptCommand = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/**
 * The Redis {@link IdempotencyStore}, over the user's `ioredis` client (never closed by the store).
 * Each record is one hash whose Redis expiry is its lease or its ttl, so expired records vanish
 * by themselves and a crashed holder's key is free once its lease runs out. `begin` and
 * `complete` are one script call each (one round trip; ioredis sends `EVALSHA` and falls back to
 * `EVAL` after a `NOSCRIPT`). Works with Redis Cluster: a record is a single key.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisIdempotencyStore } from '@bulwark/messaging/redis';
 * const store = redisIdempotencyStore(new Redis(process.env.REDIS_URL), { keyPrefix: 'shop:idem:' });
 * ```
 */
export function redisIdempotencyStore(
  redis: Redis,
  options: RedisIdempotencyStoreOptions = {},
): IdempotencyStore & { [Symbol.asyncDispose](): Promise<void> } {
  const keyPrefix = options.keyPrefix ?? redisIdempotencyStoreDefaults.keyPrefix;
  if (typeof keyPrefix !== 'string') {
    throw new InvalidMessagingOptionsError('redisIdempotencyStore', ['keyPrefix must be a string']);
  }
  const clock = options.clock ?? systemClock;
  const generateToken = options.generateToken ?? randomUUID;
  const scripts = [
    [commands.begin, beginScript],
    [commands.complete, completeScript],
    [commands.release, releaseScript],
    [commands.renew, renewScript],
    [commands.get, getScript],
  ] as const;
  const client = redis as unknown as Record<string, ScriptCommand | undefined>;
  for (const [name, lua] of scripts) {
    if (typeof client[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 1, lua });
  }
  const call = (name: string, key: string, ...args: (string | number)[]) =>
    (client[name] as ScriptCommand).call(redis, keyPrefix + key, ...args);

  const toRecord = (reply: RecordReply): IdempotencyRecord => {
    const [status, fingerprint, leaseToken, outcome, pttl] = reply;
    // PTTL is -1 only for a key without expiry, which this store never writes.
    const until = clock.now() + Math.max(0, Number(pttl));
    return status === 'c'
      ? { status: 'completed', fingerprint: fingerprint ?? '', outcome: outcome ?? '', expiresAt: until }
      : { status: 'in-progress', fingerprint: fingerprint ?? '', leaseToken: leaseToken ?? '', leaseExpiresAt: until };
  };

  let closed = false;
  const check = (signal: AbortSignal | undefined) => {
    if (closed) throw new Error('redisIdempotencyStore is closed');
    signal?.throwIfAborted();
  };
  const store: IdempotencyStore & { [Symbol.asyncDispose](): Promise<void> } = {
    async begin(key, fingerprint, leaseMs, callOptions): Promise<BeginResult> {
      check(callOptions?.signal);
      const leaseToken = generateToken();
      const reply = (await call(commands.begin, key, fingerprint, leaseToken, Math.ceil(leaseMs))) as 1 | RecordReply;
      if (reply === 1) return { kind: 'acquired', leaseToken };
      return { kind: 'existing', record: toRecord(reply as RecordReply) };
    },
    async complete(key, leaseToken, outcome, ttlMs, callOptions) {
      check(callOptions?.signal);
      return (await call(commands.complete, key, leaseToken, outcome, Math.ceil(ttlMs))) === 1;
    },
    async release(key, leaseToken, callOptions) {
      check(callOptions?.signal);
      return (await call(commands.release, key, leaseToken)) === 1;
    },
    async renew(key, leaseToken, leaseMs, callOptions) {
      check(callOptions?.signal);
      return (await call(commands.renew, key, leaseToken, Math.ceil(leaseMs))) === 1;
    },
    async get(key, callOptions) {
      check(callOptions?.signal);
      const reply = (await call(commands.get, key)) as RecordReply | null;
      return reply ? toRecord(reply) : undefined;
    },
    async delete(key, callOptions) {
      check(callOptions?.signal);
      await redis.del(keyPrefix + key);
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
