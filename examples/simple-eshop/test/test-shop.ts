// Starts a whole shop on a random port for a test file: on a fresh database of the real
// PostgreSQL server when SHOP_TEST_DATABASE=server, else on embedded PostgreSQL; with
// SHOP_TEST_BROKERS=redis (Redis Streams, Redis stores) or amqp (RabbitMQ + Redis stores) on the
// real servers, under a namespace of its own. CI runs the suite in each of these modes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverUrl, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { type RunningShop, startShop } from '../src/shop.js';

/** How long a test shop's RabbitMQ queue outlives its last consumer: longer than any pause of a test. */
const testQueueExpiresMs = 10 * 60_000;

export interface TestShop extends RunningShop {
  readonly dataDir: string;
  /** fetch against the shop with JSON in and out. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<Response>;
}

export async function startTestShop(env: Record<string, string> = {}): Promise<TestShop> {
  const dataDir = await mkdtemp(join(tmpdir(), 'shop-test-'));
  let dropDatabase: (() => Promise<void>) | undefined;
  const shopEnv: NodeJS.ProcessEnv = { PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env };
  if (process.env.SHOP_TEST_DATABASE === 'server') {
    const admin = serverUrl('postgres');
    const name = uniqueName('shop');
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    const url = new URL(admin);
    url.pathname = `/${name}`;
    shopEnv.DATABASE_URL = url.toString();
    dropDatabase = async () => {
      const dropper = new pg.Client({ connectionString: admin });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    };
  }
  const brokers = process.env.SHOP_TEST_BROKERS;
  if (brokers === 'redis' || brokers === 'amqp') {
    shopEnv.REDIS_URL = serverUrl('redis');
    shopEnv.SHOP_NAMESPACE = uniqueName('eshop');
    if (brokers === 'amqp') shopEnv.AMQP_URL = serverUrl('amqp');
  } else if (brokers) {
    throw new Error(`SHOP_TEST_BROKERS must be redis or amqp; got "${brokers}"`);
  }
  const config = loadConfig(shopEnv, []);
  // This run's queues (its own namespace) go once unused, so a machine does not collect them run after run.
  if (brokers === 'amqp') config.amqpQueueExpiresMs = testQueueExpiresMs;
  const shop = await startShop(config, shopEnv);
  return {
    ...shop,
    dataDir,
    async close() {
      await shop.close();
      await dropDatabase?.();
      await rm(dataDir, { recursive: true, force: true });
    },
    request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.body !== undefined) headers['content-type'] ??= 'application/json';
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      return fetch(`${shop.url}${path}`, {
        method,
        headers,
        ...(options.body !== undefined
          ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
          : {}),
      });
    },
  };
}

/** Polls `read` until `done` holds or `timeoutMs` passes (real background work: no fake clock). */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
