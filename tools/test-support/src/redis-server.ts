// A private redis-server for the tests that restart Redis (never the shared one): a free loopback
// port and a temp directory of its own, with an fsync'ed append-only file by default, so a
// restart on the same port and directory keeps every write Redis acknowledged.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { freePort } from './free-port.js';
import { redisClusterBinaries } from './redis-cluster.js';
import { spawnRedisServer } from './redis-server-process.js';
import { isCI, skippedSuiteMarker } from './servers.js';

export interface RedisServerProcess {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Ends the server: `SIGKILL` (a crash) or `SIGTERM` (a clean shutdown, which writes the AOF out). */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts it again on the same port and directory (after `stop`). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port and resolves once it accepts connections.
 * `appendOnly: true` (the default) runs `--appendonly yes --appendfsync always`.
 */
export async function startRedisServer(options: { appendOnly?: boolean } = {}): Promise<RedisServerProcess> {
  const server = await createRedisServer(options);
  await server.start();
  return server;
}

/**
 * A private `redis-server` on a free port and a directory of its own, not started yet (callers
 * that start several servers side by side call `start()` themselves).
 */
export async function createRedisServer(options: { appendOnly?: boolean } = {}): Promise<RedisServerProcess> {
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'bulwark-redis-'));
  const persistence =
    options.appendOnly === false ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'always'];
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = () => {
    const started = spawnRedisServer('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      directory,
      '--save',
      '',
      ...persistence,
    ]);
    child = started.child;
    return started.ready;
  };

  const stop = (signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') =>
    new Promise<void>((resolve) => {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return resolve();
      running.once('exit', () => resolve());
      running.kill(signal);
    });

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async remove() {
      await stop();
      process.off('exit', killOnExit);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/**
 * `describe` for a suite that starts its own redis-server: runs it when the binary exists, skips
 * it loudly otherwise, and fails under CI=true.
 */
export function describeWithRedisServer(suite: string, body: () => void): void {
  if (!redisClusterBinaries()) {
    const reason = 'redis-server not installed (apt-get install redis-server)';
    if (isCI()) throw new Error(`[servers] suite "${suite}" cannot run under CI: ${reason}`);
    console.warn(`\n!!!!! SKIPPED SUITE "${suite}": ${reason} !!!!!\n`);
    describe.skip(suite, () => it(`${skippedSuiteMarker} ${reason}`, () => {}));
    return;
  }
  describe(suite, body);
}
