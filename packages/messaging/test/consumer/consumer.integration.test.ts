import { consume, createEnvelope } from '@bulwark/messaging';
import { postgresTransport } from '@bulwark/messaging/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await describeWithServers('consume on postgresTransport', ['postgres'], ({ postgres }) => {
  const table = uniqueName('consumer_fifo');
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgres, max: 10 });
    pool.on('error', () => {});
    await postgresTransport(pool, { table }).migrate();
  });

  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_groups"`);
    await pool.end();
  });

  it('keeps each FIFO group in order across two competing consumers, retries included', async () => {
    const transport = postgresTransport(pool, { table, pollIntervalMs: 100 });
    const groups = ['a', 'b', 'c', 'd'];
    const perGroup = 15;
    const completed = new Map<string, number[]>();
    const busy = new Set<string>();
    const overlaps: string[] = [];
    const attempts = new Map<string, number>();
    const handler = async (message: { id: string; groupId?: string; payload: unknown }) => {
      const group = message.groupId as string;
      const index = (message.payload as { index: number }).index;
      if (busy.has(group)) overlaps.push(`${group}:${index}`);
      busy.add(group);
      try {
        await sleep(Math.floor(Math.random() * 3));
        const attempt = (attempts.get(message.id) ?? 0) + 1;
        attempts.set(message.id, attempt);
        // Every fifth message fails twice before it succeeds.
        if (index % 5 === 0 && attempt <= 2) throw new Error('transient');
        completed.set(group, [...(completed.get(group) ?? []), index]);
      } finally {
        busy.delete(group);
      }
    };
    const consumers = await Promise.all(
      [1, 2].map(() =>
        consume(transport, {
          topic: 'orders',
          group: 'fifo',
          concurrency: 4,
          ordering: 'fifo-group',
          retry: [20, 20],
          handler,
        }),
      ),
    );
    const messages = Array.from({ length: perGroup }, (_, index) =>
      groups.map((groupId) => createEnvelope({ topic: 'orders', type: 't', payload: { index }, groupId })),
    ).flat();
    for (let start = 0; start < messages.length; start += 7)
      await transport.publish('orders', messages.slice(start, start + 7));
    try {
      const deadline = Date.now() + 20_000;
      const total = () => [...completed.values()].reduce((sum, list) => sum + list.length, 0);
      while (total() < messages.length && Date.now() < deadline) await sleep(20);
      expect(overlaps).toEqual([]);
      const inOrder = Array.from({ length: perGroup }, (_, index) => index);
      for (const group of groups) expect(completed.get(group)).toEqual(inOrder);
      const handled = consumers.reduce((sum, consumer) => sum + consumer.snapshot().handled, 0);
      expect(handled).toBe(messages.length);
    } finally {
      for (const consumer of consumers) await consumer.close({ deadlineMs: 1_000 });
      await transport.close({ deadlineMs: 0 });
    }
  });
});
