// A RabbitMQ node of the chaos run's own (the shared broker must never be restarted), on its
// own ports and data directory. Needs root: rabbitmq-server drops to the rabbitmq user.
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
import { freePort, isReachable } from '@bulwark/test-support';

/** A server the chaos run starts, restarts and removes (RabbitMQ here; Redis is test-support's). */
export interface PrivateServer {
  readonly url: string;
  start(): Promise<void>;
  /** Ends the server. */
  stop(): Promise<void>;
  /** Stops the server and deletes its data. */
  remove(): Promise<void>;
}

/** Waits until the URL's port opens (or closes, with `open: false`). */
async function waitForPort(url: string, open: boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await isReachable(url, 250)) !== open) {
    if (Date.now() > deadline)
      throw new Error(`${what} did not ${open ? 'open' : 'close'} its port in ${timeoutMs} ms`);
    await sleep(100);
  }
}

const rabbitmqServer = ['/usr/sbin/rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server'].find((path) =>
  existsSync(path),
);

/** Why a private node cannot run here, or undefined when it can. */
export function privateRabbitMqUnavailable(): string | undefined {
  if (!rabbitmqServer) return 'rabbitmq-server is not installed';
  if (process.getuid?.() !== 0)
    return 'a private RabbitMQ node needs root (rabbitmq-server drops to the rabbitmq user)';
  return undefined;
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

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch (error) {
      // Gone between listing and signalling.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/**
 * A private node. stop() is a clean shutdown (SIGTERM), not a SIGKILL: on the RabbitMQ of
 * Debian 12 a quorum queue (the shop's default) killed soon after its creation can come back
 * without a leader (rabbitmq/ra#443), a broker bug no client works around.
 */
export async function privateRabbitMq(): Promise<PrivateServer> {
  const unavailable = privateRabbitMqUnavailable();
  if (unavailable) throw new Error(`private RabbitMQ: ${unavailable}`);
  const base = mkdtempSync(join(tmpdir(), 'shop-chaos-rabbit-'));
  const [port, distributionPort] = [await freePort(), await freePort()];
  mkdirSync(join(base, 'mnesia'));
  mkdirSync(join(base, 'log'));
  writeFileSync(join(base, 'enabled_plugins'), '[].');
  writeFileSync(join(base, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
  execFileSync('chown', ['-R', 'rabbitmq:rabbitmq', base]);
  chownSync(base, 0, 0);
  execFileSync('chmod', ['755', base]);
  const node = `shop-chaos-${process.pid}-${port}@localhost`;
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
  const stop = async (how: NodeJS.Signals = 'SIGTERM') => {
    signal(nodeProcesses(node), how);
    child = undefined;
    const deadline = Date.now() + 60_000;
    while (nodeProcesses(node).length > 0) {
      if (Date.now() > deadline) throw new Error(`private RabbitMQ node ${node} did not stop`);
      await sleep(200);
    }
    await waitForPort(url, false, 10_000, 'private RabbitMQ');
  };
  return {
    url,
    async start() {
      child = spawn(rabbitmqServer as string, [], { env, detached: true, stdio: 'ignore' });
      child.unref();
      await waitForPort(url, true, 120_000, `private RabbitMQ node ${node}`);
    },
    stop: () => stop(),
    async remove() {
      await stop('SIGKILL').catch(() => {});
      rmSync(base, { recursive: true, force: true });
    },
  };
}
