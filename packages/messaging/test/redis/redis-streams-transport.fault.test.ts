// A private redis-server (never the shared one) is SIGKILLed in the middle of a run and started
// again on the same port with its append-only file: the transport and the consumer on it must
// reconnect and handle every message published, none lost.

import { setTimeout as sleep } from 'node:timers/promises';
import { consume, createEnvelope } from '@bulwark/messaging';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import { describeWithRedisServer, type RedisServerProcess, startRedisServer } from '@bulwark/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

describeWithRedisServer('redisStreamsTransport under a Redis crash (private redis-server)', () => {
  let server: RedisServerProcess;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server.remove());

  it('handles every message after redis-server is SIGKILLed and restarted mid-run', async () => {
    const redis = new Redis(server.url);
    redis.on('error', () => {}); // reconnects by itself
    const transport = redisStreamsTransport(redis, { visibilityTimeoutMs: 2_000, claimIntervalMs: 200 });
    const total = 2_000;
    const sent = Array.from({ length: total }, (_, index) =>
      createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index, pad: 'x'.repeat(200) } }),
    );
    const handled = new Map<string, number>();
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      concurrency: 16,
      retry: false,
      handler: async (message) => {
        await sleep(1);
        handled.set(message.id, (handled.get(message.id) ?? 0) + 1);
      },
    });

    // Publish in batches while the consumer runs; a batch whose publish failed is sent again
    // (at-least-once publishing: a retried batch may be stored twice, the ids stay the same).
    let restarted = false;
    let published = 0;
    let batchesAfterRestart = 0;
    const publishing = (async () => {
      for (let start = 0; start < total; start += 50) {
        if (restarted) batchesAfterRestart += 1;
        const batch = sent.slice(start, start + 50);
        for (;;) {
          try {
            await transport.publish('orders', batch);
            break;
          } catch {
            await sleep(50);
          }
        }
        published += batch.length;
        await sleep(30);
      }
    })();

    while (published < total / 4 || handled.size < total / 8) await sleep(5);
    await server.stop('SIGKILL');
    const handledAtCrash = handled.size;
    await sleep(300);
    await server.start();
    restarted = true;
    await publishing;

    const deadline = Date.now() + 30_000;
    while (handled.size < total && Date.now() < deadline) await sleep(20);
    const missing = sent.filter((message) => !handled.has(message.id));
    expect(handledAtCrash).toBeLessThan(total);
    // The run really straddled the crash: publishing and handling went on on the restarted server.
    expect(batchesAfterRestart).toBeGreaterThan(0);
    expect(missing).toHaveLength(0);

    await consumer.close({ deadlineMs: 1_000 });
    await transport.close();
    redis.disconnect();
  }, 60_000);
  it('goes on after a restart that lost every key (no persistence): the group is made again, nothing new is skipped', async () => {
    const volatile = await startRedisServer({ appendOnly: false });
    const redis = new Redis(volatile.url);
    redis.on('error', () => {});
    try {
      const transport = redisStreamsTransport(redis, { claimIntervalMs: 100 });
      const handled = new Set<string>();
      const subscription = await transport.subscribe('orders', 'billing', async (delivery) => {
        handled.add(delivery.message.id);
      });
      const before = Array.from({ length: 20 }, (_, index) =>
        createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index } }),
      );
      await transport.publish('orders', before);
      while (handled.size < before.length) await sleep(5);

      await volatile.stop('SIGKILL');
      await volatile.start();
      // Published into a fresh stream, before the subscription noticed its group is gone.
      const after = Array.from({ length: 20 }, (_, index) =>
        createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index: 100 + index } }),
      );
      for (;;) {
        try {
          await transport.publish('orders', after);
          break;
        } catch {
          await sleep(50);
        }
      }
      const deadline = Date.now() + 15_000;
      while (after.some((message) => !handled.has(message.id)) && Date.now() < deadline) await sleep(20);
      expect(after.filter((message) => !handled.has(message.id))).toHaveLength(0);
      await subscription.close({ deadlineMs: 1_000 });
      await transport.close();
    } finally {
      redis.disconnect();
      await volatile.remove();
    }
  }, 60_000);
});
