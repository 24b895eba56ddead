// A real broker restart: a private RabbitMQ node (the shared one must stay up for the other
// suites) is killed with SIGKILL in the middle of a run and started again on the same data. The
// transport must reconnect, the consumer go on, and no confirmed message be lost.
//
// The queue is a durable classic one: on the RabbitMQ of Debian 12 (3.10, Ra 2.2), a quorum queue
// created seconds before a SIGKILL loses the record of its data directory (rabbitmq/ra#443), comes
// back empty and never elects a leader — a broker bug no client can work around.
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
import { consume, createEnvelope } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { freePort, isCI, isReachable } from '@bulwark/test-support';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';

const rabbitmqServer = ['/usr/sbin/rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server'].find((path) =>
  existsSync(path),
);
const canRun = rabbitmqServer !== undefined && process.getuid?.() === 0;
if (!canRun) {
  const reason = rabbitmqServer ? 'needs root to run a private RabbitMQ node' : 'rabbitmq-server is not installed';
  if (isCI()) throw new Error(`[amqp broker restart] cannot run under CI: ${reason}`);
  console.warn(`\n!!!!! SKIPPED SUITE "amqpTransport across a broker restart": ${reason} !!!!!\n`);
}

/** The processes of a RabbitMQ node: its name is in their environment, not their arguments. */
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

/** A private RabbitMQ node on its own port and data directory, started and killed at will. */
async function privateBroker() {
  const base = mkdtempSync(join(tmpdir(), 'bulwark-rabbit-'));
  const [port, distPort] = [await freePort(), await freePort()];
  mkdirSync(join(base, 'mnesia'));
  mkdirSync(join(base, 'log'));
  writeFileSync(join(base, 'enabled_plugins'), '[].');
  writeFileSync(join(base, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
  // rabbitmq-server drops to the rabbitmq user, which must own its files.
  execFileSync('chown', ['-R', 'rabbitmq:rabbitmq', base]);
  chownSync(base, 0, 0);
  execFileSync('chmod', ['755', base]);
  const node = `bulwark-${process.pid}-${port}@localhost`;
  const env = {
    ...process.env,
    RABBITMQ_CONF_ENV_FILE: '/dev/null',
    RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq'),
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
    RABBITMQ_LOG_BASE: join(base, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
  };
  let child: ChildProcess | undefined;
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  return {
    url,
    async start() {
      child = spawn(rabbitmqServer as string, [], { env, detached: true, stdio: 'ignore' });
      const deadline = Date.now() + 90_000;
      while (!(await isReachable(url, 500))) {
        if (Date.now() > deadline) throw new Error(`private RabbitMQ node ${node} did not start`);
        await sleep(250);
      }
    },
    /**
     * SIGKILL to every process of the node (no clean shutdown); resolves once its port is closed.
     * The node runs under `su rabbitmq` in a session of its own, so it is found by its name.
     */
    async kill() {
      if (child?.pid) process.kill(-child.pid, 'SIGKILL');
      child = undefined;
      for (const pid of nodeProcesses(node)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (error) {
          // Listed a moment ago, gone since (the group kill above reached it first).
          if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
        }
      }
      const deadline = Date.now() + 15_000;
      while (await isReachable(url, 200)) {
        if (Date.now() > deadline) throw new Error(`private RabbitMQ node ${node} survived SIGKILL`);
        await sleep(100);
      }
    },
    async remove() {
      await this.kill().catch(() => {});
      rmSync(base, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!canRun)('amqpTransport across a broker restart', () => {
  let broker: Awaited<ReturnType<typeof privateBroker>> | undefined;
  afterAll(() => broker?.remove());

  it('reconnects after the broker is SIGKILLed and restarted, and handles every confirmed message', async () => {
    broker = await privateBroker();
    await broker.start();
    const url = broker.url;
    let lost = 0;
    const transport = amqpTransport(() => amqp.connect(url, { noDelay: true }), {
      queueType: 'classic',
      reconnectInitialMs: 100,
      onError: (error) => {
        if (error.code === 'CONNECTION_LOST') lost += 1;
      },
    });
    const total = 1_000;
    const sent = Array.from({ length: total }, (_, index) =>
      createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index } }),
    );
    const handled = new Map<string, number>();
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      concurrency: 8,
      retry: false,
      handler: async (message) => {
        await sleep(1);
        handled.set(message.id, (handled.get(message.id) ?? 0) + 1);
      },
    });

    let restarted = false;
    const publishing = (async () => {
      for (let start = 0; start < total; start += 50) {
        // A batch counts as sent once the broker confirmed it; until then it is sent again.
        for (;;) {
          try {
            await transport.publish('orders', sent.slice(start, start + 50));
            break;
          } catch {
            await sleep(100);
          }
        }
        await sleep(20);
      }
    })();

    while (handled.size < 300) await sleep(10);
    await broker.kill();
    const handledWhileDown = handled.size;
    await broker.start();
    restarted = true;
    await publishing;

    const deadline = Date.now() + 60_000;
    while (handled.size < total && Date.now() < deadline) await sleep(50);
    expect(restarted).toBe(true);
    expect(handledWhileDown).toBeLessThan(total);
    expect(lost).toBeGreaterThan(0);
    expect(sent.filter((message) => !handled.has(message.id))).toHaveLength(0);

    await consumer.close({ deadlineMs: 1_000 });
    await transport.close();
  }, 180_000);
});
