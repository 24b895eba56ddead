import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type {
  AcquireProbeOptions,
  CircuitStateStore,
  SharedCircuitState,
} from '../circuit-breaker/circuit-state-store.js';
import { redisScript, runRedisScript } from '../internal/redis/redis-script.js';
import acquireProbeLua from './lua/circuit-acquire-probe.lua';
import publishLua from './lua/circuit-publish.lua';

const publishScript = redisScript(publishLua);
const acquireProbeScript = redisScript(acquireProbeLua);

import { OptionsValidator } from '../policy/options.js';

/** Options of {@link redisCircuitStateStore}. */
export interface RedisCircuitStateStoreOptions {
  /**
   * Prefix of the Redis keys. Each circuit uses `<prefix>{<name>}` (its state) and
   * `<prefix>{<name>}:probes` (its half-open leases); the hash tag keeps both in one cluster slot.
   * @defaultValue 'bulwark:circuit:'
   */
  readonly prefix?: string;
  /**
   * How long a published state is kept after its last publish. A circuit nobody touches for this
   * long starts again from each instance's local state.
   * @defaultValue 86_400_000 (one day)
   */
  readonly stateTtlMs?: number;
}

const rejectIfAborted = (signal: AbortSignal | undefined): Promise<never> | undefined =>
  signal?.aborted ? Promise.reject(signal.reason) : undefined;

/**
 * A {@link CircuitStateStore} on Redis, through the caller's `ioredis` client: circuit breakers
 * with the same `name` in every process share their state. When one instance opens the circuit,
 * the others fail fast as soon as they next sync (`syncIntervalMs`, at most one background `HGET`
 * per interval); when it is half-open, only `halfOpenMaxCalls` probes run across all instances,
 * held by leases that expire on the Redis server's clock (a crashed prober cannot keep the circuit
 * half-open).
 *
 * The trade-off: sharing is opt-in because one instance's local fault (its own network path, a
 * bad pod) then opens the circuit for every instance. Share a breaker when failures come from the
 * dependency itself; keep it local when they may come from the caller.
 *
 * Each method is one round trip: `HGET` (read) or one script (`src/redis/lua/circuit-*.lua`,
 * `EVALSHA` with reload on `NOSCRIPT`). If Redis fails, breakers go on with their local state.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { circuitBreaker, consecutive } from '@bulwark/resilience';
 * import { redisCircuitStateStore } from '@bulwark/resilience/redis';
 *
 * const breaker = circuitBreaker({
 *   name: 'payments',
 *   strategy: consecutive(5),
 *   halfOpenAfter: 10_000,
 *   store: redisCircuitStateStore(new Redis(process.env.REDIS_URL)),
 * });
 * ```
 */
export function redisCircuitStateStore(
  redis: Redis | Cluster,
  options: RedisCircuitStateStoreOptions = {},
): CircuitStateStore {
  const prefix = options.prefix ?? 'bulwark:circuit:';
  const stateTtlMs = options.stateTtlMs ?? 86_400_000;
  const validator = new OptionsValidator('redisCircuitStateStore');
  if (!redis || typeof redis.defineCommand !== 'function') validator.report('redis must be an ioredis client');
  if (typeof prefix !== 'string') validator.report('prefix must be a string');
  if (!Number.isInteger(stateTtlMs) || stateTtlMs < 1) validator.report('stateTtlMs must be a positive integer');
  validator.throwIfInvalid();

  // Lease ids must be unique across instances: one random id per store, then a counter.
  const instanceId = randomUUID();
  let leases = 0;
  const stateKey = (name: string) => `${prefix}{${name}}`;

  return {
    read(name, readOptions) {
      return (
        rejectIfAborted(readOptions?.signal) ??
        redis
          .hget(stateKey(name), 'state')
          .then((json) => (json === null ? undefined : (JSON.parse(json) as SharedCircuitState)))
      );
    },
    publish(name, state, publishOptions) {
      const key = stateKey(name);
      return (
        rejectIfAborted(publishOptions?.signal) ??
        runRedisScript(
          redis,
          publishScript,
          [key, `${key}:probes`],
          [state.at, JSON.stringify(state), stateTtlMs],
        ).then(() => undefined)
      );
    },
    acquireProbe(name, probeOptions: AcquireProbeOptions) {
      leases += 1;
      return (
        rejectIfAborted(probeOptions.signal) ??
        runRedisScript(
          redis,
          acquireProbeScript,
          [`${stateKey(name)}:probes`],
          [probeOptions.maxProbes, Math.max(1, Math.ceil(probeOptions.leaseMs)), `${instanceId}:${leases}`],
        ).then((taken) => taken === 1)
      );
    },
  };
}
