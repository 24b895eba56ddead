// Starts a real Redis Cluster for the tests that claim Cluster support: three redis-server
// masters in cluster mode on free loopback ports, each with its own temp directory, joined by
// `redis-cli --cluster create`. Needs the redis-server and redis-cli binaries (Debian's
// redis-server package, which .ci/run installs); `redisClusterBinaries()` says whether they exist.
import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, it } from 'vitest';
import { freePort } from './free-port.js';
import { spawnRedisServer } from './redis-server-process.js';
import { isCI, skippedSuiteMarker } from './servers.js';

const run = promisify(execFile);

/** The binaries a cluster needs, or `undefined` when one is missing. */
export function redisClusterBinaries(): { server: string; cli: string } | undefined {
  const find = (name: string) =>
    ['/usr/bin', '/usr/local/bin', '/usr/sbin'].map((dir) => join(dir, name)).find((path) => existsSync(path));
  const server = find('redis-server');
  const cli = find('redis-cli');
  return server && cli ? { server, cli } : undefined;
}

/** A free TCP port whose +10000 (the cluster bus port) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535) continue;
    // The cluster bus listens on port + 10000: a port that only something else holds (not a Redis,
    // say an outgoing connection's local port) makes the server exit at once, seen as a start
    // timeout. Taking the port for a moment shows it is free.
    if (await canListen(port + 10_000)) return port;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Starts one cluster-mode redis-server on a free port not in `taken` and resolves once it answers.
 * A server that exits at once (its port or bus port taken between the check and its start) is
 * started again on another port, up to three times; the error then holds its exit and output.
 */
async function startClusterNode(
  server: string,
  directory: string,
  taken: readonly number[],
): Promise<{ child: ChildProcess; port: number }> {
  const failures: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    let port = await freeClusterPort();
    while (taken.includes(port)) port = await freeClusterPort();
    const { child, ready } = spawnRedisServer(server, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(directory, `nodes-${port}.conf`),
      '--dir',
      directory,
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    try {
      await ready;
      return { child, port };
    } catch (error) {
      const exited = child.exitCode !== null || child.signalCode !== null;
      if (!exited) {
        child.kill('SIGKILL');
        throw error;
      }
      failures.push(`port ${port}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`redis-server did not start in cluster mode:\n${failures.join('\n')}`);
}

export interface RedisClusterProcess {
  /** `{ host, port }` of every master, for `new Cluster(nodes)`. */
  readonly nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** Starts a three-master Redis Cluster and resolves once it reports `cluster_state:ok`. */
export async function startRedisCluster(): Promise<RedisClusterProcess> {
  const binaries = redisClusterBinaries();
  if (!binaries)
    throw new Error('redis-server and redis-cli are needed for a Redis Cluster (apt-get install redis-server)');
  const directory = mkdtempSync(join(tmpdir(), 'bulwark-redis-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(
      children.map((child) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((resolve) => child.once('exit', resolve))
          : undefined,
      ),
    );
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    while (ports.length < 3) {
      const { child, port } = await startClusterNode(binaries.server, directory, ports);
      children.push(child);
      ports.push(port);
    }
    await run(binaries.cli, [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(
        ports.map(async (port) => (await run(binaries.cli, ['-p', String(port), 'cluster', 'info'])).stdout),
      );
      if (states.every((info) => info.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error(`Redis Cluster did not reach cluster_state:ok:\n${states.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
}

/**
 * `describe` for a suite that runs on a Redis Cluster of its own, started now and stopped after
 * the suite. Without the redis binaries it skips loudly, and fails under CI=true.
 */
export async function describeWithRedisCluster(
  suite: string,
  body: (nodes: { host: string; port: number }[]) => void,
): Promise<void> {
  if (!redisClusterBinaries()) {
    const reason = 'redis-server/redis-cli not installed (apt-get install redis-server)';
    if (isCI()) throw new Error(`[servers] suite "${suite}" cannot run under CI: ${reason}`);
    console.warn(`\n!!!!! SKIPPED SUITE "${suite}": ${reason} !!!!!\n`);
    describe.skip(suite, () => it(`${skippedSuiteMarker} ${reason}`, () => {}));
    return;
  }
  const cluster = await startRedisCluster();
  describe(suite, () => {
    afterAll(() => cluster.stop());
    body(cluster.nodes);
  });
}
