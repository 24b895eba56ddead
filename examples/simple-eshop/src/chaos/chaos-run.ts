// The chaos run: the shop as a process of its own under the load generator's traffic while its
// database connections are cut every few seconds and its servers restart (PostgreSQL once, then
// Redis and RabbitMQ when it uses them), all private instances the run starts. Afterwards the
// books are checked with the load run's invariants, and the shop process must never have died.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRabbitMqServer,
  createRedisServer,
  faultProxy,
  type RabbitMqServerProcess,
  type RedisServerProcess,
} from '@bulwark/test-support';
import pg from 'pg';
import { applicationName, embeddedPostgres } from '../infrastructure/database.js';
import { type LoadReport, runLoad } from '../load/load-run.js';
import { type ShopProcess, startShopProcess } from './shop-process.js';

export type ChaosBrokers = 'none' | 'redis' | 'amqp';

export interface ChaosOptions {
  /** Where the run keeps its servers' data and the shop's log. */
  dataDir: string;
  /**
   * `private`: an embedded PostgreSQL the run starts and restarts once. A URL: that server's
   * database (the shared one, say), whose connections are cut but which is never restarted.
   */
  database: 'private' | { url: string };
  /** Private Redis (`redis`), or RabbitMQ with Redis stores (`amqp`), restarted once each. */
  brokers: ChaosBrokers;
  /** How long traffic runs. */
  durationMs: number;
  /** Concurrent virtual shoppers. @defaultValue 8 */
  shoppers?: number;
  /**
   * Every database connection of the shop is ended every `[min, max]` ms, by turns with
   * `pg_terminate_backend` (the server ends them) and by the fault proxy the shop reaches its
   * database through (the network drops them). @defaultValue [4000, 5000]
   */
  cutEveryMs?: readonly [number, number];
  /** Which cuts: both by turns, or only one kind. @defaultValue 'alternate' */
  cuts?: 'alternate' | 'terminate' | 'proxy';
  /** Restart the private servers (once each). @defaultValue true */
  restarts?: boolean;
  /** How long a restarted server stays down. @defaultValue 3000 */
  downMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export type FaultKind =
  | 'backends-terminated'
  | 'connections-cut'
  | 'postgres-restart'
  | 'redis-restart'
  | 'rabbitmq-restart';

export interface FaultRecord {
  kind: FaultKind;
  /** Milliseconds since traffic started. */
  atMs: number;
  /** From the server being back (or the cut) until /health/ready answered 200 again. */
  recoveryMs: number;
  /** For restarts: what /health/ready answered while the server was down. */
  readyWhileDown?: number;
  /** For cuts: how many connections were ended. */
  connections?: number;
}

export interface ChaosReport {
  /** Absent when the shop died and the traffic could not finish. */
  load?: LoadReport;
  faults: FaultRecord[];
  longestRecoveryMs: number;
  /** The shop process ended by itself (0 or 1: a dead shop ends the run). */
  crashes: number;
  crash?: { exit: ShopProcess['exit']; outputTail: string };
  /** Every invariant held, no crash, and every restart was seen as 503 while down. */
  ok: boolean;
}

async function readyStatus(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Milliseconds until /health/ready answers 200 (polled every 100 ms), at most `timeoutMs`. */
async function timeUntilReady(url: string, timeoutMs = 90_000): Promise<number> {
  const started = performance.now();
  while ((await readyStatus(url)) !== 200) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`the shop was not ready ${timeoutMs} ms after a fault`);
    await sleep(100);
  }
  return Math.round(performance.now() - started);
}

/** The private servers the run restarts: `stop()` is SIGKILL for Redis, a clean shutdown for RabbitMQ. */
type PrivateServer = RedisServerProcess | RabbitMqServerProcess;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const runStarted = performance.now();
  const log = (line: string) =>
    options.log?.(`${((performance.now() - runStarted) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  const [cutMin, cutMax] = options.cutEveryMs ?? [4_000, 5_000];
  const restarts = options.restarts ?? true;
  const downMs = options.downMs ?? 3_000;
  await mkdir(options.dataDir, { recursive: true });
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    // The servers start side by side: a RabbitMQ node alone takes tens of seconds on a busy machine.
    const postgres = options.database === 'private' ? await embeddedPostgres(options.dataDir) : undefined;
    const brokers: Partial<Record<'redis' | 'rabbitmq', PrivateServer>> = {};
    // test-support's private redis-server (AOF, fsync always): a SIGKILL loses nothing Redis acknowledged.
    if (options.brokers !== 'none') brokers.redis = await createRedisServer();
    // stop() is a clean shutdown (SIGTERM), not a SIGKILL: on the RabbitMQ of Debian 12 a quorum
    // queue (the shop's default) killed soon after its creation can come back without a leader
    // (rabbitmq/ra#443), a broker bug no client works around.
    if (options.brokers === 'amqp') brokers.rabbitmq = await createRabbitMqServer({ name: 'shop-chaos' });
    // The embedded PostgreSQL keeps its data in dataDir, which the caller removes.
    const servers: Array<{ name: string; url: string; start(): Promise<void>; remove(): Promise<void> }> = [
      ...(postgres ? [{ name: 'PostgreSQL', url: postgres.url, start: postgres.start, remove: postgres.stop }] : []),
      ...(brokers.redis ? [{ name: 'Redis (AOF, fsync always)', ...brokers.redis }] : []),
      ...(brokers.rabbitmq ? [{ name: 'RabbitMQ node', ...brokers.rabbitmq }] : []),
    ];
    for (const server of servers) log(`starting a private ${server.name} (${server.url})`);
    const started = await Promise.allSettled(
      servers.map(async (server) => {
        await server.start();
        cleanups.push(() => server.remove());
      }),
    );
    const notStarted = started.find((result) => result.status === 'rejected');
    if (notStarted) throw notStarted.reason;
    const databaseUrl = postgres ? postgres.url : (options.database as { url: string }).url;

    // The run's own connections check the books and end the shop's backends; they are not the
    // shop's, so they are left alone (and survive the restart through the pool's error listener).
    const checks = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'simple-eshop-chaos' });
    checks.on('error', () => {});
    cleanups.push(() => checks.end());

    // The shop reaches its database through a fault proxy, which can drop every connection at once.
    const target = new URL(databaseUrl);
    const proxy = await faultProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const admin = { email: 'admin@shop.local', password: randomUUID() };
    const shopDataDir = join(options.dataDir, 'shop');
    await mkdir(shopDataDir, { recursive: true });
    log('starting the shop process');
    const shop = await startShopProcess(
      {
        ...process.env,
        DATABASE_URL: proxy.url(databaseUrl),
        DATA_DIR: shopDataDir,
        LOG_LEVEL: 'warn',
        JWT_SECRET: randomUUID(),
        ADMIN_EMAIL: admin.email,
        ADMIN_PASSWORD: admin.password,
        SHOP_NAMESPACE: `chaos${randomUUID().slice(0, 8)}`,
        SHOP_RETRY_DELAYS_MS: '200,500',
        SHOP_BREAKER_HALF_OPEN_MS: '1000',
        SHOP_LOGIN_FAILURES_PER_IP: '1000',
        ...(brokers.redis ? { REDIS_URL: brokers.redis.url } : { REDIS_URL: '' }),
        ...(brokers.rabbitmq ? { AMQP_URL: brokers.rabbitmq.url } : { AMQP_URL: '' }),
        S3_ENDPOINT: '',
        SMTP_URL: '',
        PAYMENT_URL: '',
      },
      join(options.dataDir, 'shop.log'),
    );
    cleanups.push(() => shop.stop());
    log(`shop ${shop.url} (pid ${shop.pid})`);

    const faults: FaultRecord[] = [];
    const terminateBackends = async () => {
      const { rows } = await checks.query<{ ended: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS ended FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = $1`,
        [applicationName],
      );
      return rows[0]?.ended ?? 0;
    };
    const restart = async (kind: FaultKind, server: { stop(): Promise<void>; start(): Promise<void> }) => {
      const atMs = Math.round(performance.now() - trafficStarted);
      log(`${kind}: stopping`);
      await server.stop();
      await sleep(Math.max(0, downMs - 1_000));
      const readyWhileDown = await readyStatus(shop.url);
      await sleep(Math.min(downMs, 1_000));
      await server.start();
      const recoveryMs = await timeUntilReady(shop.url);
      log(`${kind}: back; /health/ready was ${readyWhileDown} while down, 200 again ${recoveryMs} ms after`);
      faults.push({ kind, atMs, recoveryMs, readyWhileDown });
    };
    const plannedRestarts: Array<{ atFraction: number; kind: FaultKind; server: PrivateServer | typeof postgres }> =
      restarts
        ? [
            { atFraction: 0.2, kind: 'postgres-restart' as const, server: postgres },
            { atFraction: 0.45, kind: 'redis-restart' as const, server: brokers.redis },
            { atFraction: 0.65, kind: 'rabbitmq-restart' as const, server: brokers.rabbitmq },
          ].filter((planned) => planned.server !== undefined)
        : [];

    let trafficStarted = performance.now();
    const chaos = async () => {
      trafficStarted = performance.now();
      const endAt = trafficStarted + options.durationMs;
      let useRandom = 0;
      // A fixed spread over [min, max] instead of Math.random: runs are comparable.
      const cutInterval = () => {
        useRandom = (useRandom + 0.37) % 1;
        return cutMin + (cutMax - cutMin) * useRandom;
      };
      let cuts = 0;
      let nextCut = trafficStarted + cutInterval();
      while (performance.now() < endAt) {
        // A restart comes at its planned moment (after the first cut) even when a cut is closer
        // to due, so a short run still restarts every server while the traffic runs.
        const due = plannedRestarts[0];
        const restartAt =
          due && cuts > 0 ? trafficStarted + due.atFraction * options.durationMs : Number.POSITIVE_INFINITY;
        await sleep(Math.max(0, Math.min(nextCut, restartAt, endAt) - performance.now()));
        if (shop.exit || performance.now() >= endAt) break;
        if (due && performance.now() >= restartAt) {
          plannedRestarts.shift();
          await restart(due.kind, due.server as PrivateServer);
          nextCut = performance.now() + cutInterval();
          continue;
        }
        const atMs = Math.round(performance.now() - trafficStarted);
        const cutWith = options.cuts ?? 'alternate';
        const kind: FaultKind =
          cutWith === 'terminate' || (cutWith === 'alternate' && cuts % 2 === 0)
            ? 'backends-terminated'
            : 'connections-cut';
        cuts += 1;
        let connections: number;
        if (kind === 'backends-terminated') {
          connections = await terminateBackends();
        } else {
          connections = proxy.connections;
          proxy.cutAll();
        }
        const recoveryMs = await timeUntilReady(shop.url);
        log(`${kind}: ${connections} connections ended at ${atMs} ms; ready ${recoveryMs} ms after`);
        faults.push({ kind, atMs, recoveryMs, connections });
        nextCut = performance.now() + cutInterval();
      }
      // Restarts the traffic ran out before (a short run) still happen, so every server restarts.
      for (const due of plannedRestarts.splice(0)) {
        if (shop.exit) break;
        await restart(due.kind, due.server as PrivateServer);
      }
      log('faults over; the books are checked once every order has ended');
    };

    let load: LoadReport | undefined;
    let loadError: unknown;
    log('traffic starts');
    try {
      load = await runLoad({
        url: shop.url,
        pool: checks,
        admin,
        durationMs: options.durationMs,
        shoppers: options.shoppers ?? 8,
        settleTimeoutMs: 90_000,
        alongside: chaos,
      });
    } catch (error) {
      loadError = error;
    }
    log(loadError ? `traffic failed: ${String(loadError)}` : 'books checked');
    // A request that failed because the shop died may be seen before its exit is.
    const crashed = loadError ? await shop.died(3_000) : shop.exit !== undefined;
    if (!load) {
      if (crashed) {
        return {
          faults,
          longestRecoveryMs: Math.max(0, ...faults.map((fault) => fault.recoveryMs)),
          crashes: 1,
          crash: { exit: shop.exit, outputTail: await shop.outputTail() },
          ok: false,
        };
      }
      throw loadError;
    }
    const failed = Object.values(load.invariants).some((result) => !result.ok);
    const restartsSeen = faults
      .filter((fault) => fault.readyWhileDown !== undefined)
      .every((fault) => fault.readyWhileDown === 503);
    return {
      load,
      faults,
      longestRecoveryMs: Math.max(0, ...faults.map((fault) => fault.recoveryMs)),
      crashes: crashed ? 1 : 0,
      ...(crashed ? { crash: { exit: shop.exit, outputTail: await shop.outputTail() } } : {}),
      ok: !crashed && !failed && restartsSeen && load.books.lost === 0 && load.books.doubled === 0,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}
