// A private nats-server with JetStream on a free port and a store directory of its own, for the
// fault suites that kill it or break its store: the shared server must stay up for everyone else.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, isCI, isReachable } from '@bulwark/test-support';

/** The installed nats-server, if any. */
export const natsServerBinary = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(
  (path) => existsSync(path),
);

/** Says why `suite` is skipped when nats-server is missing; under CI it fails instead. */
export function skipWithoutNatsServer(suite: string): boolean {
  if (natsServerBinary) return false;
  const reason = 'nats-server is not installed (apt-get install nats-server)';
  if (isCI()) throw new Error(`[${suite}] cannot run under CI: ${reason}`);
  console.warn(`\n!!!!! SKIPPED SUITE "${suite}": ${reason} !!!!!\n`);
  return true;
}

/** A private nats-server with JetStream, on its own port and store directory, killed and started at will. */
export async function privateNatsServer() {
  const store = mkdtempSync(join(tmpdir(), 'bulwark-nats-'));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  return {
    url,
    /** The server's store directory (`-sd`): streams live under `jetstream/$G/streams/<name>`. */
    store,
    async start() {
      child = spawn(natsServerBinary as string, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
        stdio: 'ignore',
      });
      const deadline = Date.now() + 30_000;
      while (!(await isReachable(url, 500))) {
        if (Date.now() > deadline) throw new Error(`private nats-server on ${port} did not start`);
        await sleep(100);
      }
    },
    /** SIGKILL (no clean shutdown); resolves once the process is gone. */
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async remove() {
      await this.kill();
      rmSync(store, { recursive: true, force: true });
    },
  };
}
