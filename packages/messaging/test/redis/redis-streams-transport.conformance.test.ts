import { setTimeout as sleep } from 'node:timers/promises';
import { createEnvelope, type Delivery, type Envelope, type MessagingError, type Transport } from '@bulwark/messaging';
import { type RedisStreamsTransportOptions, redisStreamsTransport } from '@bulwark/messaging/redis';
import { transportConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';

import { collectProcessWarnings, describeWithServers, uniqueName } from '@bulwark/test-support';

import { Redis } from 'ioredis';

import { afterEach, describe, expect, it } from 'vitest';

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

const envelopes = (topic: string, count: number) =>
  Array.from({ length: count }, (_, index) => createEnvelope({ topic, type: 'test', payload: { index } }));

await describeWithServers('redisStreamsTransport', ['redis'], ({ redis: url }) => {
  /** What one test opened: the user's client (named, so the test can find and kill its connections). */
  interface Opened {
    redis: Redis;
    keyPrefix: string;
    connectionName: string;
  }
  const openedByTransport = new Map<Transport, Opened>();
  const admin = () => new Redis(url);

  const open = (options: RedisStreamsTransportOptions = {}) => {
    const connectionName = uniqueName('bulwark-rs');
    const redis = new Redis(url, { connectionName });
    const keyPrefix = `${connectionName}:`;
    const transport = redisStreamsTransport(redis, { keyPrefix, claimIntervalMs: 200, ...options });
    openedByTransport.set(transport, { redis, keyPrefix, connectionName });
    return { transport, redis, keyPrefix, connectionName };
  };

  const dispose = async (transport: Transport) => {
    const opened = openedByTransport.get(transport);
    if (!opened) return;
    openedByTransport.delete(transport);
    await transport.close({ deadlineMs: 0 });
    await deleteByPrefix(opened.redis, opened.keyPrefix);
    opened.redis.disconnect();
  };

  /** Kills every connection of this transport (its client and the subscriptions' duplicates). */
  const killConnections = async (connectionName: string) => {
    const client = admin();
    try {
      const list = (await client.client('LIST')) as string;
      const ids = list
        .split('\n')
        .filter((line) => line.includes(` name=${connectionName} `))
        .map((line) => /id=(\d+)/.exec(line)?.[1])
        .filter((id): id is string => id !== undefined);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) await client.client('KILL', 'ID', id);
    } finally {
      client.disconnect();
    }
  };

  transportConformance('redisStreamsTransport', {
    createTransport: ({ visibilityTimeoutMs }) => open({ visibilityTimeoutMs }).transport,
    dispose,
    // The shared Redis must not be restarted: every connection the transport holds is dropped
    // instead (the fault test restarts a private redis-server for real).
    restartServer: async (transport) => {
      const opened = openedByTransport.get(transport);
      if (!opened) throw new Error('unknown transport');
      await killConnections(opened.connectionName);
    },
  });

  describe('redisStreamsTransport (Redis specifics)', () => {
    const cleanups: Transport[] = [];
    afterEach(async () => {
      for (const transport of cleanups.splice(0)) await dispose(transport);
    });
    const tracked = (options: RedisStreamsTransportOptions = {}) => {
      const opened = open(options);
      cleanups.push(opened.transport);
      return opened;
    };

    it('takes over, with XAUTOCLAIM, the pending entries of a consumer that died', async () => {
      const { transport, redis, keyPrefix } = tracked({ visibilityTimeoutMs: 500 });
      const topic = 'orders';
      const stream = `${keyPrefix}{${topic}}`;
      // A consumer of the group reads five entries and dies without acking them.
      await redis.xgroup('CREATE', stream, 'billing', '$', 'MKSTREAM');
      const sent = envelopes(topic, 5);
      await transport.publish(topic, sent);
      const read = (await redis.xreadgroup(
        'GROUP',
        'billing',
        'dead-consumer',
        'COUNT',
        10,
        'STREAMS',
        stream,
        '>',
      )) as [string, unknown[]][];
      expect(read[0]?.[1]).toHaveLength(5);

      const received: Delivery[] = [];
      await transport.subscribe(topic, 'billing', async (delivery) => {
        received.push(delivery);
      });
      await eventually(() => received.length >= 5, 10_000, 'the takeover of 5 entries');
      expect(received.map((delivery) => delivery.message.id).sort()).toEqual(sent.map((message) => message.id).sort());
      // Read once by the dead consumer, claimed once by the survivor.
      expect(received.map((delivery) => delivery.deliveryCount)).toEqual([2, 2, 2, 2, 2]);
      await eventually(
        async () => ((await redis.xpending(stream, 'billing')) as [number])[0] === 0,
        5_000,
        'an empty pending entries list',
      );
    });

    it('counts deliveries from XPENDING across nacks and takeovers', async () => {
      const { transport } = tracked({ visibilityTimeoutMs: 400 });
      const counts: number[] = [];
      await transport.subscribe(
        'counts',
        'group',
        async (delivery) => {
          counts.push(delivery.deliveryCount);
          if (delivery.deliveryCount === 1) throw new Error('fail');
          if (delivery.deliveryCount === 2) return new Promise(() => {}); // hangs: taken back after the timeout
        },
        { prefetch: 2 },
      );
      await transport.publish('counts', envelopes('counts', 1));
      await eventually(() => counts.length >= 3, 10_000, 'three deliveries');
      expect(counts).toEqual([1, 2, 3]);
    });

    it('delays a publish until it is due', async () => {
      const { transport } = tracked();
      const seenAt: number[] = [];
      await transport.subscribe('later', 'group', async () => {
        seenAt.push(Date.now());
      });
      const publishedAt = Date.now();
      await transport.publish('later', envelopes('later', 3), { delayMs: 600 });
      await sleep(300);
      expect(seenAt).toHaveLength(0);
      await eventually(() => seenAt.length >= 3, 10_000, 'the delayed messages');
      for (const at of seenAt) expect(at - publishedAt).toBeGreaterThanOrEqual(550);
    });

    it('keeps a nacked entry pending while it waits, so it survives the death of its consumer', async () => {
      const { transport, redis, keyPrefix } = tracked({ visibilityTimeoutMs: 300 });
      const stream = `${keyPrefix}{waits}`;
      let first = true;
      const subscription = await transport.subscribe('waits', 'group', async (delivery) => {
        if (first) {
          first = false;
          await delivery.nack({ delayMs: 1_000 });
        }
      });
      await transport.publish('waits', envelopes('waits', 1));
      await eventually(() => !first, 5_000, 'the first delivery');
      await subscription.close();
      // Pending, and not taken over by XAUTOCLAIM before its delay is over despite the short visibility timeout.
      expect(((await redis.xpending(stream, 'group')) as [number])[0]).toBe(1);
      const counts: number[] = [];
      const startedAt = Date.now();
      await transport.subscribe('waits', 'group', async (delivery) => {
        counts.push(delivery.deliveryCount);
      });
      await eventually(() => counts.length >= 1, 5_000, 'the redelivery after the delay');
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(500);
      expect(counts).toEqual([2]);
    });

    it('trims streams near maxLength', async () => {
      const { transport, redis, keyPrefix } = tracked({ maxLength: 100 });
      for (let batch = 0; batch < 10; batch++) await transport.publish('trimmed', envelopes('trimmed', 100));
      const length = await redis.xlen(`${keyPrefix}{trimmed}`);
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(300);
    });

    it('reports background errors as BulwarkWarning process warnings when no onError is given', async () => {
      const { warnings, stop } = collectProcessWarnings('BulwarkWarning');
      try {
        const { transport, redis, keyPrefix } = tracked();
        await transport.subscribe('junk-warned', 'group', async () => {});
        await redis.xadd(`${keyPrefix}{junk-warned}`, '*', 'envelope', 'not json');
        await eventually(() => warnings.length === 1, 5_000, 'one warning');
        expect(warnings[0]?.code).toBe('BULWARK_UNREADABLE_MESSAGE');
        expect(warnings[0]?.message).toMatch(/^redisStreamsTransport: /);
      } finally {
        stop();
      }
    });

    it('reports an entry it cannot deserialize and acks it rather than redelivering it forever', async () => {
      const errors: MessagingError[] = [];
      const { transport, redis, keyPrefix } = tracked({ onError: (error) => errors.push(error) });
      const received: Envelope[] = [];
      await transport.subscribe('junk', 'group', async (delivery) => {
        received.push(delivery.message);
      });
      const stream = `${keyPrefix}{junk}`;
      await redis.xadd(stream, '*', 'envelope', 'not json');
      await transport.publish('junk', envelopes('junk', 1));
      await eventually(() => received.length === 1 && errors.length === 1, 5_000, 'the good message and one error');
      expect(errors[0]?.code).toBe('UNREADABLE_MESSAGE');
      await eventually(
        async () => ((await redis.xpending(stream, 'group')) as [number])[0] === 0,
        5_000,
        'nothing pending',
      );
    });

    it('opens one connection per subscription and closes it, leaving the user client open', async () => {
      const { transport, redis, connectionName } = tracked();
      const countConnections = async () =>
        ((await redis.client('LIST')) as string).split('\n').filter((line) => line.includes(` name=${connectionName} `))
          .length;
      await redis.ping();
      const before = await countConnections();
      const subscriptions = await Promise.all([
        transport.subscribe('connections', 'a', async () => {}),
        transport.subscribe('connections', 'b', async () => {}),
      ]);
      await eventually(async () => (await countConnections()) === before + 2, 5_000, 'two more connections');
      for (const subscription of subscriptions) await subscription.close();
      await eventually(async () => (await countConnections()) === before, 5_000, 'the duplicates closed');
      await transport.close();
      expect(await redis.ping()).toBe('PONG');
    });

    it("holds entries published before a topic's first group for that group; a later group starts at new entries", async () => {
      const { transport } = tracked();
      const early = envelopes('held', 3);
      await transport.publish('held', early);
      await transport.declareGroup('held', 'first');
      const later = envelopes('held', 2);
      await transport.publish('held', later);
      await transport.declareGroup('held', 'second'); // groupStart 'new': the stream has a group already
      const last = envelopes('held', 1);
      await transport.publish('held', last);
      const received: Record<string, string[]> = { first: [], second: [] };
      for (const group of ['first', 'second'] as const) {
        await transport.subscribe('held', group, async (delivery) => {
          received[group]?.push(delivery.message.id);
        });
      }
      await eventually(
        () => received.first?.length === 6 && received.second?.length === 1,
        5_000,
        'six entries for the first group, one for the second',
      );
      await sleep(100);
      expect(received.first).toEqual([...early, ...later, ...last].map((message) => message.id));
      expect(received.second).toEqual(last.map((message) => message.id));
    });

    it('declares a group before any subscriber, and reports group depths', async () => {
      const { transport } = tracked();
      await transport.declareGroup('declared', 'late');
      await transport.publish('declared', envelopes('declared', 5));
      expect(await transport.snapshot()).toEqual([
        { topic: 'declared', group: 'late', ready: 5, inFlight: 0, waiting: 0, consumers: 0 },
      ]);
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let handled = 0;
      await transport.subscribe(
        'declared',
        'late',
        async () => {
          await released;
          handled += 1;
        },
        { prefetch: 2 },
      );
      await eventually(async () => (await transport.snapshot())[0]?.inFlight === 2, 5_000, 'two deliveries in flight');
      expect(await transport.snapshot()).toEqual([
        { topic: 'declared', group: 'late', ready: 3, inFlight: 2, waiting: 0, consumers: 1 },
      ]);
      release();
      await eventually(() => handled === 5, 5_000, 'the five messages handled');
      await eventually(async () => (await transport.snapshot())[0]?.inFlight === 0, 5_000, 'nothing in flight');
      expect((await transport.snapshot())[0]?.ready).toBe(0);
    });

    it('removes the empty consumers that crashed processes left in the group', async () => {
      const { transport, redis, keyPrefix } = tracked({ consumerPruneIdleMs: 300, claimIntervalMs: 100 });
      const stream = `${keyPrefix}{pruned}`;
      await transport.declareGroup('pruned', 'group');
      // A process joined the group and crashed: its consumer stays registered with nothing pending.
      await redis.xgroup('CREATECONSUMER', stream, 'group', 'crashed-consumer');
      const consumerNames = async () =>
        ((await redis.xinfo('CONSUMERS', stream, 'group')) as string[][]).map((fields) => fields[1]);
      expect(await consumerNames()).toContain('crashed-consumer');
      const received: string[] = [];
      await transport.subscribe('pruned', 'group', async (delivery) => {
        received.push(delivery.message.id);
      });
      await eventually(
        async () => !(await consumerNames()).includes('crashed-consumer'),
        5_000,
        'the crashed consumer pruned',
      );
      // The live subscriber goes on (re-created by its next read if it was pruned while idle).
      await transport.publish('pruned', envelopes('pruned', 3));
      await eventually(() => received.length === 3, 5_000, 'three deliveries after the pruning');
    });

    it('validates its options, listing every problem', () => {
      const redis = new Redis(url, { lazyConnect: true });
      try {
        expect(() => redisStreamsTransport(redis, { visibilityTimeoutMs: 0, prefetch: 1.5 })).toThrow(
          InvalidOptionsError,
        );
        try {
          redisStreamsTransport(redis, { visibilityTimeoutMs: -1, maxLength: 0 });
        } catch (error) {
          expect((error as InvalidOptionsError).problems).toHaveLength(2);
        }
      } finally {
        redis.disconnect();
      }
    });
  });
});
