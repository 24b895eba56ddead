// Helpers shared by the AMQP transport's server tests.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The broker-side ids (pids) of the connections whose client properties carry `connection_name`. */
export async function findBrokerConnections(connectionName: string): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    'pid',
    'client_properties',
    '-q',
    '--no-table-headers',
  ]);
  // One line per connection: `<rabbit@host.123.456.0>\t[{"connection_name","name"},…]`.
  return stdout
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${connectionName}"}`))
    .map((line) => line.split('\t')[0] as string);
}

/** Closes connections on the broker side, as a broker restart or a network cut would. */
export async function closeBrokerConnectionsByPid(pids: readonly string[]): Promise<void> {
  await Promise.all(
    pids.map((pid) => run('rabbitmqctl', ['close_connection', pid, 'bulwark test: dropping the connection'])),
  );
}

/** Closes every connection whose client properties carry `connection_name`; returns how many. */
export async function closeBrokerConnections(connectionName: string): Promise<number> {
  const pids = await findBrokerConnections(connectionName);
  await closeBrokerConnectionsByPid(pids);
  return pids.length;
}

/** The virtual host of `AMQP_URL` (CI gives the tests one of their own), `/` by default. */
function testVhost(): string {
  const path = process.env.AMQP_URL ? new URL(process.env.AMQP_URL).pathname.slice(1) : '';
  return path ? decodeURIComponent(path) : '/';
}

/** Names of the broker's queues that start with `prefix`, in the tests' virtual host. */
export async function listQueues(prefix: string): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', '-p', testVhost(), 'name', '-q', '--no-table-headers']);
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.startsWith(prefix));
}

export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(10);
  }
}
