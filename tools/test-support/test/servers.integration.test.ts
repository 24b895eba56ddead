// Proves the loopback servers every adapter suite relies on answer real round trips.
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeWithServers, uniqueName } from '../src/servers.js';

await describeWithServers('loopback servers', ['postgres', 'redis', 'amqp'], (urls) => {
  it('PostgreSQL runs a query', async () => {
    const client = new pg.Client({ connectionString: urls.postgres });
    await client.connect();
    try {
      const { rows } = await client.query<{ answer: number }>('SELECT 41 + 1 AS answer');
      expect(rows[0]?.answer).toBe(42);
    } finally {
      await client.end();
    }
  });

  it('Redis stores and reads a key', async () => {
    const redis = new Redis(urls.redis, { lazyConnect: true });
    await redis.connect();
    try {
      const key = uniqueName('smoke');
      await redis.set(key, 'value', 'PX', 10_000);
      expect(await redis.get(key)).toBe('value');
      await redis.del(key);
    } finally {
      redis.disconnect();
    }
  });

  it('RabbitMQ routes a message through a queue', async () => {
    const connection = await amqp.connect(urls.amqp);
    try {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(queue, Buffer.from('ping'));
      const message = await new Promise<amqp.ConsumeMessage>((resolve) => {
        void channel.consume(queue, (delivered) => delivered && resolve(delivered), { noAck: true });
      });
      expect(message.content.toString()).toBe('ping');
    } finally {
      await connection.close();
    }
  });
});
