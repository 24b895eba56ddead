// A test shop's RabbitMQ queues carry `x-expires`, so the broker drops them once the run is over;
// a shop configured from the environment declares its queues without it (they must never expire).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import amqp from 'amqplib';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openMessaging } from '../src/infrastructure/messaging.js';

await describeWithServers('simple-eshop RabbitMQ queue expiry', ['postgres', 'amqp'], (servers) => {
  const database = uniqueName('shop_queues');
  let dataDir: string;
  let pool: pg.Pool;
  let connection: amqp.ChannelModel;
  const namespaces: string[] = [];

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: servers.postgres });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    const url = new URL(servers.postgres);
    url.pathname = `/${database}`;
    pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
    dataDir = await mkdtemp(join(tmpdir(), 'shop-queues-'));
    connection = await amqp.connect(servers.amqp);
  });
  afterAll(async () => {
    const channel = await connection.createChannel();
    for (const namespace of namespaces) {
      await channel.deleteQueue(`${namespace}:orders:billing`);
      for (const exchange of [namespace, `${namespace}.delayed`, `${namespace}.unrouted`])
        await channel.deleteExchange(exchange);
    }
    await connection.close();
    await pool.end();
    const admin = new pg.Client({ connectionString: servers.postgres });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Declares the group queue `orders:billing` through the shop's messaging; returns its name. */
  const declareShopQueue = async (queueExpiresMs: number | undefined) => {
    const namespace = uniqueName('eshop');
    namespaces.push(namespace);
    const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, AMQP_URL: servers.amqp, SHOP_NAMESPACE: namespace }, []);
    if (queueExpiresMs !== undefined) config.amqpQueueExpiresMs = queueExpiresMs;
    const messaging = await openMessaging(config, pool, undefined);
    try {
      await messaging.transport.declareGroup?.('orders', 'billing');
    } finally {
      await messaging.close();
    }
    return `${namespace}:orders:billing`;
  };
  /** Whether the broker accepts declaring `queue` again with `expires` (it refuses other arguments). */
  const declaredWith = async (queue: string, expires: number | undefined) => {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    const expiry = expires === undefined ? {} : { 'x-expires': expires };
    try {
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', ...expiry } });
      await channel.close();
      return true;
    } catch {
      return false;
    }
  };

  it("gives the queues of a test run x-expires when the test sets it, and a service's queues none", async () => {
    const expiring = await declareShopQueue(600_000);
    expect(await declaredWith(expiring, 600_000)).toBe(true);
    expect(await declaredWith(expiring, undefined)).toBe(false);

    const lasting = await declareShopQueue(undefined);
    expect(await declaredWith(lasting, undefined)).toBe(true);
    expect(await declaredWith(lasting, 600_000)).toBe(false);
  });
});
