// A private RabbitMQ node for what restarts or kills a broker (never the shared one): its own
// ports, data directory and node name. rabbitmq-server drops to the rabbitmq user, so it needs
// root; the node runs in a session of its own and is found by its name for signals.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { isReachable } from './servers.js';

const rabbitmqServer = ['/usr/sbin/rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server'].find((path) =>
  existsSync(path),
);

/** Why a private node cannot run here, or `undefined` when it can. */
export function privateRabbitMqUnavailable(): string | undefined {
  if (!rabbitmqServer) return 'rabbitmq-server is not installed';
  if (process.getuid?.() !== 0)
    return 'a private RabbitMQ node needs root (rabbitmq-server drops to the rabbitmq user)';
  return undefined;
}

export interface RabbitMqServerProcess {
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  readonly url: string;
  /** Starts the node (again, after `stop`) on the same ports and data; resolves once its port is open. */
  start(): Promise<void>;
  /**
   * Ends every process of the node with `signal` and resolves once they are gone and the port is
   * closed: `SIGTERM` (the default) is a clean shutdown, `SIGKILL` a crash.
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Kills the node and removes its directory. */
  remove(): Promise<void>;
}

/** The processes of a node: its name is in their environment, not in their arguments. */
function nodeProcesses(node: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`RABBITMQ_NODENAME=${node}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      // Gone between listing and signalling.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

async function waitForPort(url: string, open: boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await isReachable(url, 250)) !== open) {
    if (Date.now() > deadline)
      throw new Error(`${what} did not ${open ? 'open' : 'close'} its port in ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A private RabbitMQ node, made but not started (`start()` it). Throws when none can run here. */
export async function createRabbitMqServer(options: { name?: string } = {}): Promise<RabbitMqServerProcess> {
  const unavailable = privateRabbitMqUnavailable();
  if (unavailable) throw new Error(`private RabbitMQ: ${unavailable}`);
  const prefix = options.name ?? 'bulwark';
  const base = mkdtempSync(join(tmpdir(), `${prefix}-rabbit-`));
  const [port, distributionPort] = [await freePort(), await freePort()];
  mkdirSync(join(base, 'mnesia'));
  mkdirSync(join(base, 'log'));
  writeFileSync(join(base, 'enabled_plugins'), '[].');
  writeFileSync(join(base, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
  // rabbitmq-server drops to the rabbitmq user, which must own its files.
  execFileSync('chown', ['-R', 'rabbitmq:rabbitmq', base]);
  chownSync(base, 0, 0);
  execFileSync('chmod', ['755', base]);
  const node = `${prefix}-${process.pid}-${port}@localhost`;
  const env = {
    ...process.env,
    RABBITMQ_CONF_ENV_FILE: '/dev/null',
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq'),
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distributionPort),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    // The session first (the node runs under `su rabbitmq`), then whatever carries the node's name.
    if (child?.pid) signalAll([-child.pid], signal);
    child = undefined;
    signalAll(nodeProcesses(node), signal);
    const deadline = Date.now() + 60_000;
    while (nodeProcesses(node).length > 0) {
      if (Date.now() > deadline) throw new Error(`private RabbitMQ node ${node} did not stop`);
      await sleep(200);
    }
    await waitForPort(url, false, 15_000, `private RabbitMQ node ${node}`);
  };
  return {
    url,
    async start() {
      child = spawn(rabbitmqServer as string, [], { env, detached: true, stdio: 'ignore' });
      child.unref();
      await waitForPort(url, true, 120_000, `private RabbitMQ node ${node}`);
    },
    stop,
    async remove() {
      await stop('SIGKILL').catch(() => {});
      rmSync(base, { recursive: true, force: true });
    },
  };
}
