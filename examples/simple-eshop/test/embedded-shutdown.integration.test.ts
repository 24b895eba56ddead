// `pnpm dev` with nothing set: the shop starts its own embedded PostgreSQL. Ctrl-C in a terminal
// sends SIGINT to every process of the foreground group, and a service manager sends SIGTERM to
// the shop alone: either way the shop must close in its own order (its work, its pool, then its
// PostgreSQL) and exit 0, without a database pulled from under it and nothing left running.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@bulwark/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopCommand, shopDir, waitReady } from './shop-process.js';

/** A shop process on an embedded PostgreSQL, leading a process group of its own (a terminal's job). */
interface EmbeddedShop {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with its exit code (or signal) once it exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/**
 * Starts the shop with `command` (by default node on src/main.ts, as the start script) and waits
 * until it is ready.
 */
async function startEmbeddedShop(
  dataDir: string,
  [file, args]: [string, string[]] = [process.execPath, shopCommand('all')],
): Promise<EmbeddedShop> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir };
  // Nothing set, as for a new user: no server URLs (CI sets them for other suites).
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'S3_ENDPOINT', 'SMTP_URL', 'PAYMENT_URL'])
    delete env[name];
  const child = spawn(file, args, { cwd: shopDir, env, detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, 90_000);
  return { child, url, output: () => output, exited };
}

/** Whether any process of the group led by `pid` is still running. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('simple-eshop on its embedded PostgreSQL', () => {
  let dataDir: string;
  const started: EmbeddedShop[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shop-embedded-'));
  });

  afterAll(async () => {
    for (const shop of started)
      if (groupAlive(shop.child.pid as number)) process.kill(-(shop.child.pid as number), 'SIGKILL');
    // A server left by a failed test runs in a session of its own: end it by its pid file.
    const postmasterPid = join(dataDir, 'postgres', 'postmaster.pid');
    if (existsSync(postmasterPid)) process.kill(Number(readFileSync(postmasterPid, 'utf8').split('\n')[0]), 'SIGQUIT');
    await rm(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['Ctrl-C (SIGINT to the whole process group)', (pid: number) => process.kill(-pid, 'SIGINT')],
    [
      // With the script exec'd (or /bin/sh being bash), the shop is pnpm's child, and pnpm passes
      // the terminal's SIGINT on to it: the same SIGINT twice.
      'Ctrl-C under pnpm (SIGINT to the group, then from pnpm)',
      (pid: number) => {
        process.kill(-pid, 'SIGINT');
        process.kill(pid, 'SIGINT');
      },
    ],
    ['SIGTERM to the shop alone', (pid: number) => process.kill(pid, 'SIGTERM')],
  ])(
    '%s: closes before its PostgreSQL stops, exits 0, leaves nothing running',
    async (_signal, stop) => {
      const shop = await startEmbeddedShop(dataDir);
      started.push(shop);
      const pid = shop.child.pid as number;
      expect((await fetch(`${shop.url}/api/products`)).status).toBe(200);
      const postmasterPid = join(dataDir, 'postgres', 'postmaster.pid');
      expect(existsSync(postmasterPid)).toBe(true);
      stop(pid);
      expect(await shop.exited).toBe(0);
      expect(shop.output()).toContain('shutting down');
      // PostgreSQL went down after the shop let go of it, not under it.
      expect(shop.output()).not.toMatch(/database connection lost|terminating connection|BulwarkWarning/);
      // A clean PostgreSQL shutdown removes its pid file; no process of the job is left.
      expect(existsSync(postmasterPid)).toBe(false);
      expect(groupAlive(pid)).toBe(false);
      await expect(fetch(shop.url)).rejects.toThrow();
    },
    120_000,
  );

  // `pnpm start`: the same pnpm → sh → node chain as `pnpm dev` (which npm run dev runs), without
  // the web build, which would empty web/dist under the suites that serve it.
  it('`pnpm start`: Ctrl-C ends pnpm without an error, once the shop has closed', async () => {
    const shop = await startEmbeddedShop(dataDir, ['pnpm', ['run', 'start']]);
    started.push(shop);
    const pid = shop.child.pid as number;
    process.kill(-pid, 'SIGINT');
    await shop.exited;
    expect(shop.output()).toContain('shutting down');
    // pnpm reported the script's shell killed by SIGINT and returned while the shop still closed.
    expect(shop.output()).not.toMatch(/ERR_PNPM|Command failed|database connection lost|BulwarkWarning/);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(groupAlive(pid)).toBe(false);
  }, 180_000);

  it('starts on the data of a shop that was SIGKILLed, whose PostgreSQL kept running', async () => {
    const killed = await startEmbeddedShop(dataDir);
    started.push(killed);
    process.kill(killed.child.pid as number, 'SIGKILL');
    await killed.exited;
    // Its server outlived it, in a session of its own, holding the data directory.
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(true);
    const shop = await startEmbeddedShop(dataDir);
    started.push(shop);
    expect((await fetch(`${shop.url}/api/products`)).status).toBe(200);
    process.kill(shop.child.pid as number, 'SIGTERM');
    expect(await shop.exited).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  }, 180_000);
});
