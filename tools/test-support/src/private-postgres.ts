// A PostgreSQL server of the test's own (initdb + pg_ctl from the Debian packages), for tests that
// stop and start the server: the shared one on 5432 must stay up for everyone else.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** A running private PostgreSQL server. */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  /** Stops the server (fast shutdown: every connection is ended), waits `downMs`, starts it again on the same data and port. */
  restart(downMs?: number): Promise<void>;
  /** Stops it and deletes its data. */
  close(): Promise<void>;
}

/** The directory of the newest installed PostgreSQL's programs, if any. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'pg_ctl')))
    .sort((left, right) => Number(right) - Number(left));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Starts a private server on a free port (PostgreSQL refuses root: as root it runs as `postgres`). */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const binaries = postgresBinaries();
  if (!binaries)
    throw new Error('PostgreSQL programs not found under /usr/lib/postgresql (apt-get install postgresql)');
  const directory = await mkdtemp(join(tmpdir(), 'bulwark-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    await chown(directory, Number(stdout.trim()), Number(group.trim()));
  }
  const exec = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(binaries, program), ...args])
      : run(join(binaries, program), args);
  const data = join(directory, 'data');
  const port = await freePort();
  await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -k ${directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = () => exec('pg_ctl', ['-D', data, '-l', join(directory, 'log'), '-o', options, '-w', 'start']);
  const stop = () => exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart(downMs = 0) {
      await stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async close() {
      await stop().catch(() => {});
      await rm(directory, { recursive: true, force: true });
    },
  };
}
