// A Redis server of the chaos run's own (the shared one must never be restarted), with an
// append-only file synced on every write, so a SIGKILL loses nothing Redis acknowledged.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, isReachable } from '@bulwark/test-support';

export interface PrivateServer {
  readonly url: string;
  start(): Promise<void>;
  /** Ends the server (SIGKILL for Redis: no shutdown save, the AOF must carry everything). */
  stop(): Promise<void>;
  /** Stops the server and deletes its data. */
  remove(): Promise<void>;
}

/** Waits until the URL's port opens (or closes, with `open: false`). */
export async function waitForPort(url: string, open: boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await isReachable(url, 250)) !== open) {
    if (Date.now() > deadline)
      throw new Error(`${what} did not ${open ? 'open' : 'close'} its port in ${timeoutMs} ms`);
    await sleep(100);
  }
}

export async function privateRedis(): Promise<PrivateServer> {
  const dir = await mkdtemp(join(tmpdir(), 'shop-chaos-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (!child) return;
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    child = undefined;
    await waitForPort(url, false, 10_000, 'private Redis');
  };
  return {
    url,
    async start() {
      child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
          ...['--appendonly', 'yes', '--appendfsync', 'always', '--logfile', join(dir, 'redis.log')],
        ],
        { stdio: 'ignore' },
      );
      await waitForPort(url, true, 20_000, 'private Redis');
    },
    stop,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
