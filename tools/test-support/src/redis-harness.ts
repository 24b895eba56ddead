// The Redis fault-test harness every package's Redis fault tests share: a client configured as we
// tell users to configure it, made once before the faults and never replaced, either through a
// fault proxy in front of the shared Redis or against a private redis-server that is restarted.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import type { CustomFault } from './fault-injection.js';
import { type FaultProxy, faultProxy } from './fault-proxy.js';
import { type RedisServerProcess, startRedisServer } from './redis-server.js';

/** The client options we tell users to set: a silent connection is dropped and made again. */
export const redisFaultClientOptions = {
  socketTimeout: 2_000,
  maxRetriesPerRequest: 2,
  retryStrategy: () => 100,
} as const;

function faultTolerantClient(url: string): Redis {
  const redis = new Redis(url, redisFaultClientOptions);
  redis.on('error', () => {}); // ioredis reports each failed reconnect here; it reconnects by itself
  return redis;
}

/** What {@link useRedisBehindFaultProxy} gives a suite (read inside its tests). */
export interface RedisBehindFaultProxy {
  /** The fault proxy in front of the shared Redis. */
  readonly proxy: FaultProxy;
  /** The client through the proxy: the one under faults. */
  readonly redis: Redis;
  /** A client past the proxy, to read back what was stored. */
  readonly direct: Redis;
}

/** In a suite: before its tests, a fault proxy in front of Redis at `url` and the clients; after them, all closed. */
export function useRedisBehindFaultProxy(url: string): RedisBehindFaultProxy {
  let proxy: FaultProxy | undefined;
  let redis: Redis | undefined;
  let direct: Redis | undefined;
  beforeAll(async () => {
    const { hostname, port } = new URL(url);
    proxy = await faultProxy({ host: hostname, port: Number(port) || 6379 });
    redis = faultTolerantClient(proxy.url(url));
    direct = new Redis(url);
  });
  afterAll(async () => {
    redis?.disconnect();
    direct?.disconnect();
    await proxy?.close();
  });
  const made = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRedisBehindFaultProxy: read it inside a test');
    return value;
  };
  return {
    get proxy() {
      return made(proxy);
    },
    get redis() {
      return made(redis);
    },
    get direct() {
      return made(direct);
    },
  };
}

/** What {@link useRestartedRedis} gives a suite (read inside its tests). */
export interface RestartedRedis {
  /** The private redis-server (AOF on). */
  readonly server: RedisServerProcess;
  /** The client under the restarts. */
  readonly redis: Redis;
  /** One fault per signal: the server stopped with it, down 1 s, started again on the same port and data. */
  restarts(signals?: readonly ('SIGKILL' | 'SIGTERM')[]): CustomFault[];
}

/** In a suite: before its tests, a private redis-server and a client; after them, both removed. */
export function useRestartedRedis(): RestartedRedis {
  let server: RedisServerProcess | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = faultTolerantClient(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.remove();
  });
  const made = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRestartedRedis: read it inside a test');
    return value;
  };
  return {
    get server() {
      return made(server);
    },
    get redis() {
      return made(redis);
    },
    restarts: (signals = ['SIGKILL', 'SIGTERM']) =>
      signals.map((signal) => ({
        name: `${signal === 'SIGKILL' ? 'SIGKILL' : 'SHUTDOWN'} + restart`,
        inject: async () => {
          await made(server).stop(signal);
          await sleep(1_000);
          await made(server).start();
        },
      })),
  };
}
