import { type AddressInfo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createEnvelope,
  type Envelope,
  MessagingError,
  type Transport,
  TransportClosedError,
} from '@bulwark/messaging';
import { type AmqpTransportOptions, amqpTransport, delayBucketMs } from '@bulwark/messaging/amqp';
import { transportConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';

import { describeWithServers, uniqueName } from '@bulwark/test-support';

import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeBrokerConnections, eventually, listQueues } from './amqp-test-support.js';

const envelopes = (topic: string, count: number) =>
  Array.from({ length: count }, (_, index) => createEnvelope({ topic, type: 'test', payload: { index } }));

await describeWithServers('amqpTransport', ['amqp'], ({ amqp: url }) => {
  // One exchange for this file (deleted at the end); queues expire on their own once unused.
  const exchange = uniqueName('bulwark-test');
  const testQueueArguments = { 'x-expires': 120_000 };
  let admin: ChannelModel;
  beforeAll(async () => {
    admin = await amqp.connect(url);
  });
  afterAll(async () => {
    // Held queues never expire (they may hold messages): delete the ones this file made.
    for (const queue of await listQueues(`${exchange}.unrouted:`)) {
      const channel = await admin.createChannel();
      await channel.deleteQueue(queue).catch(() => {});
      await channel.close().catch(() => {});
    }
    const channel = await admin.createChannel();
    for (const name of [exchange, `${exchange}.delayed`, `${exchange}.unrouted`])
      await channel.deleteExchange(name).catch(() => {});
    await admin.close();
  });

  const connectionNames = new Map<Transport, string>();
  const open = (options: AmqpTransportOptions = {}) => {
    const connectionName = uniqueName('bulwark-amqp');
    const transport = amqpTransport(
      () => amqp.connect(url, { clientProperties: { connection_name: connectionName }, noDelay: true }),
      {
        exchange,
        queuePrefix: `${connectionName}:`,
        queueArguments: testQueueArguments,
        reconnectInitialMs: 50,
        ...options,
      },
    );
    connectionNames.set(transport, connectionName);
    return { transport, connectionName, queuePrefix: `${connectionName}:` };
  };

  transportConformance('amqpTransport', {
    createTransport: () => open().transport,
    // The shared broker must not be restarted: its connections to this transport are closed
    // broker-side instead, as a restart would.
    restartServer: async (transport) => {
      const name = connectionNames.get(transport) as string;
      expect(await closeBrokerConnections(name)).toBeGreaterThan(0);
    },
  });

  describe('amqpTransport (RabbitMQ specifics)', () => {
    const transports: Transport[] = [];
    afterEach(async () => {
      for (const transport of transports.splice(0)) await transport.close({ deadlineMs: 0 });
    });
    const tracked = (options: AmqpTransportOptions = {}) => {
      const opened = open(options);
      transports.push(opened.transport);
      return opened;
    };
    const queueDepth = async (queue: string) => {
      const channel = await admin.createChannel();
      try {
        return (await channel.checkQueue(queue)).messageCount;
      } finally {
        await channel.close();
      }
    };

    it('resolves publish once the broker confirmed every message into the durable queue', async () => {
      const { transport, queuePrefix } = tracked();
      const subscription = await transport.subscribe('confirmed', 'group', async () => {});
      await subscription.close();
      await transport.publish('confirmed', envelopes('confirmed', 25));
      expect(await queueDepth(`${queuePrefix}confirmed:group`)).toBe(25);
    });

    it('rejects publish when the broker refuses a message (basic.nack), without retrying it', async () => {
      const { transport } = tracked({
        queueType: 'classic',
        queueArguments: { ...testQueueArguments, 'x-max-length': 1, 'x-overflow': 'reject-publish' },
      });
      const subscription = await transport.subscribe('full', 'group', async () => {});
      await subscription.close();
      await transport.publish('full', envelopes('full', 1));
      const error = await transport.publish('full', envelopes('full', 2)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MessagingError);
      expect((error as MessagingError).code).toBe('PUBLISH_REFUSED');
    });

    it('refuses exactly the unroutable publishes among concurrent ones on the same channel (returns matched without a header)', async () => {
      const { transport, queuePrefix } = tracked();
      const subscription = await transport.subscribe('routed', 'group', async () => {});
      await subscription.close();
      // Interleaved on the one publishing channel: returns of the unbound topic arrive between
      // the confirms of the bound one; the same envelope sent twice to the unbound topic is refused twice.
      const twice = createEnvelope({ topic: 'unbound', type: 'test', payload: { index: -1 } });
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, index) => {
          const topic = index % 2 === 0 ? 'routed' : 'unbound';
          const batch = index === 1 || index === 3 ? [twice] : envelopes(topic, 2);
          return transport.publish(topic, batch).then(
            () => 'published',
            (error: unknown) => (error instanceof MessagingError ? error.code : String(error)),
          );
        }),
      );
      expect(outcomes).toEqual(
        Array.from({ length: 40 }, (_, index) => (index % 2 === 0 ? 'published' : 'MESSAGE_UNROUTABLE')),
      );
      expect(await queueDepth(`${queuePrefix}routed:group`)).toBe(40);
    });

    it('respects prefetch: no more unacked deliveries than asked for', async () => {
      const { transport, queuePrefix } = tracked();
      let running = 0;
      let maxRunning = 0;
      let handled = 0;
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      await transport.subscribe(
        'prefetched',
        'group',
        async () => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await released;
          running -= 1;
          handled += 1;
        },
        { prefetch: 3 },
      );
      await transport.publish('prefetched', envelopes('prefetched', 10));
      await eventually(() => running === 3, 5_000, 'three deliveries in flight');
      await sleep(200);
      expect(running).toBe(3);
      expect(await queueDepth(`${queuePrefix}prefetched:group`)).toBe(7);
      release();
      await eventually(() => handled === 10, 5_000, 'all 10 handled');
      expect(maxRunning).toBe(3);
    });

    it('closes a subscription only once a handler that acked early is done, and keeps its ack', async () => {
      const { transport, queuePrefix } = tracked();
      const happened: string[] = [];
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const subscription = await transport.subscribe('acked-early', 'group', async (delivery) => {
        await delivery.ack();
        happened.push('acked');
        await released;
        happened.push('handler done');
      });
      await transport.publish('acked-early', envelopes('acked-early', 1));
      await eventually(() => happened.includes('acked'), 5_000, 'the early ack');
      const closed = subscription.close({ deadlineMs: 10_000 }).then(() => happened.push('closed'));
      await sleep(200);
      expect(happened).toEqual(['acked']);
      release();
      await closed;
      expect(happened).toEqual(['acked', 'handler done', 'closed']);
      // The ack was written before the channel closed: nothing went back to the queue.
      expect(await queueDepth(`${queuePrefix}acked-early:group`)).toBe(0);
    });

    it('delays a publish through a delay queue that dead-letters into the exchange', async () => {
      const { transport } = tracked();
      const seenAt: number[] = [];
      await transport.subscribe('later', 'group', async () => {
        seenAt.push(Date.now());
      });
      const publishedAt = Date.now();
      await transport.publish('later', envelopes('later', 3), { delayMs: 600 });
      await sleep(300);
      expect(seenAt).toHaveLength(0);
      await eventually(() => seenAt.length === 3, 10_000, 'the delayed messages');
      for (const at of seenAt) expect(at - publishedAt).toBeGreaterThanOrEqual(550);
    });

    it('holds a delayed publish no group received when its delay ended, for the next group, exactly once', async () => {
      const { transport } = tracked();
      const topic = uniqueName('held');
      const published = envelopes(topic, 3);
      await transport.publish(topic, published, { delayMs: 200 });
      const held = `${exchange}.unrouted:${topic}`;
      await eventually(async () => (await queueDepth(held)) === 3, 10_000, 'the three messages held by the broker');

      // A group declared afterwards (by another transport) receives each held message once.
      const { transport: later } = tracked();
      await later.declareGroup(topic, 'late');
      const received: string[] = [];
      await later.subscribe(topic, 'late', async (delivery) => {
        received.push(delivery.message.id);
      });
      await eventually(() => received.length >= 3, 10_000, 'the held messages');
      // A second group and a second subscriber release nothing again.
      const other: string[] = [];
      await later.subscribe(topic, 'other', async (delivery) => {
        other.push(delivery.message.id);
      });
      await later.subscribe(topic, 'late', async (delivery) => {
        received.push(delivery.message.id);
      });
      await sleep(300);
      expect(received.sort()).toEqual(published.map((message) => message.id).sort());
      expect(other).toEqual([]);
      expect(await queueDepth(held)).toBe(0);
    });

    it('delivers a delayed publish whose group exists once, and nothing is left held', async () => {
      const { transport } = tracked();
      const topic = uniqueName('delayed-once');
      const received: string[] = [];
      await transport.subscribe(topic, 'group', async (delivery) => {
        received.push(delivery.message.id);
      });
      const [message] = envelopes(topic, 1);
      await transport.publish(topic, [message as Envelope], { delayMs: 200 });
      await eventually(() => received.length >= 1, 10_000, 'the delayed message');
      await sleep(300);
      expect(received).toEqual([message?.id]);
      expect(await queueDepth(`${exchange}.unrouted:${topic}`)).toBe(0);
    });

    it('keeps using an exchange and delay queues declared by an earlier version', async () => {
      const { transport, queuePrefix } = tracked();
      const topic = uniqueName('upgraded');
      // What the previous version declared: a delay queue dead-lettering straight into the exchange.
      const channel = await admin.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      await channel.assertQueue(`${queuePrefix}${topic}:delay:200`, {
        durable: true,
        arguments: {
          'x-message-ttl': 200,
          'x-dead-letter-exchange': exchange,
          'x-dead-letter-routing-key': topic,
          'x-expires': 60_200,
        },
      });
      await channel.close();
      const received: string[] = [];
      await transport.subscribe(topic, 'group', async (delivery) => {
        received.push(delivery.message.id);
      });
      await transport.publish(topic, envelopes(topic, 2), { delayMs: 200 });
      await eventually(() => received.length >= 2, 10_000, 'the delayed messages');
    });

    it('delays a nack for its group only, and carries the delivery count on classic queues too', async () => {
      const { transport } = tracked({ queueType: 'classic' });
      const delayed: number[] = [];
      const other: number[] = [];
      const seenAt: number[] = [];
      await transport.subscribe('retried', 'delayed', async (delivery) => {
        delayed.push(delivery.deliveryCount);
        seenAt.push(Date.now());
        if (delivery.deliveryCount < 3) await delivery.nack({ delayMs: 300 });
      });
      await transport.subscribe('retried', 'other', async (delivery) => {
        other.push(delivery.deliveryCount);
      });
      await transport.publish('retried', envelopes('retried', 1));
      await eventually(() => delayed.length === 3, 10_000, 'three deliveries');
      await sleep(200);
      expect(delayed).toEqual([1, 2, 3]);
      expect(other).toEqual([1]);
      expect((seenAt[1] as number) - (seenAt[0] as number)).toBeGreaterThanOrEqual(250);
    });

    it('rounds delays up to two significant digits so jittered delays share a few queues', () => {
      expect([0, 7, 700, 1_234, 15_678, 99_999].map(delayBucketMs)).toEqual([0, 7, 700, 1_300, 16_000, 100_000]);
    });

    it('never closes a connection it was given; publishing fails clearly once that connection is gone', async () => {
      const connection = await amqp.connect(url);
      const transport = amqpTransport(connection, { exchange, queueArguments: testQueueArguments });
      const topic = uniqueName('given');
      const received: string[] = [];
      await transport.subscribe(topic, 'group', async (delivery) => {
        received.push(delivery.message.id);
      });
      await transport.publish(topic, envelopes(topic, 2));
      await eventually(() => received.length === 2, 5_000, 'two deliveries');
      await transport.close();
      const channel = await connection.createChannel(); // still open
      await channel.close();
      await expect(transport.publish(topic, envelopes(topic, 1))).rejects.toBeInstanceOf(TransportClosedError);

      const other = amqpTransport(connection, { exchange });
      await connection.close();
      const error = await other.publish(topic, envelopes(topic, 1)).catch((caught: unknown) => caught);
      expect((error as MessagingError).code).toBe('CONNECTION_CLOSED');
      await other.close();
    });

    it('declares a group before any subscriber, and reports queue depths', async () => {
      const { transport, queuePrefix } = tracked();
      await transport.declareGroup('declared', 'late');
      await transport.publish('declared', envelopes('declared', 5));
      expect(await transport.snapshot()).toEqual([
        { topic: 'declared', group: 'late', queue: `${queuePrefix}declared:late`, ready: 5, consumers: 0 },
      ]);
      const received: string[] = [];
      await transport.subscribe('declared', 'late', async (delivery) => {
        received.push(delivery.message.id);
      });
      await eventually(() => received.length === 5, 5_000, 'the five declared-early messages');
      await eventually(async () => (await transport.snapshot())[0]?.ready === 0, 5_000, 'an empty queue');
      expect((await transport.snapshot())[0]?.consumers).toBe(1);
    });

    it('keeps reconnecting while the broker is unreachable, until the subscribe signal aborts', async () => {
      const errors: MessagingError[] = [];
      const transport = amqpTransport(() => amqp.connect('amqp://guest:guest@127.0.0.1:1'), {
        reconnectInitialMs: 20,
        onError: (error) => errors.push(error),
      });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('gave up waiting for the broker')), 300);
      await expect(transport.subscribe('t', 'g', async () => {}, { signal: controller.signal })).rejects.toThrow(
        'gave up waiting for the broker',
      );
      expect(errors.filter((error) => error.code === 'CONNECTION_FAILED').length).toBeGreaterThan(1);
      await transport.close();
      await expect(transport.publish('t', envelopes('t', 1))).rejects.toBeInstanceOf(TransportClosedError);
    });

    it('gives up on a connection the broker never completes, and connects once it answers', async () => {
      // Accepts the socket and never speaks: an overloaded broker, or a network gone silent.
      const silent = createServer(() => {});
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      let target = `amqp://guest:guest@127.0.0.1:${port}`;
      const errors: MessagingError[] = [];
      const transport = amqpTransport(() => amqp.connect(target), {
        exchange,
        queuePrefix: `${uniqueName('bulwark-amqp')}:`,
        queueArguments: { 'x-expires': 60_000 },
        operationTimeoutMs: 300,
        reconnectInitialMs: 20,
        reconnectMaxMs: 50,
        onError: (error) => errors.push(error),
      });
      try {
        await expect(transport.declareGroup('silent', 'group')).rejects.toMatchObject({ code: 'BROKER_TIMEOUT' });
        expect(errors.some((error) => error.code === 'CONNECTION_FAILED')).toBe(true);
        // The attempt under way may still be the silent one: calls succeed once the next has connected.
        target = url;
        await eventually(
          () =>
            transport.declareGroup('silent', 'group').then(
              () => true,
              () => false,
            ),
          10_000,
          'a declareGroup on the broker that answers',
        );
        expect(transport.health().status).toBe('up');
      } finally {
        await transport.close({ deadlineMs: 0 });
        silent.close();
      }
    });

    it('validates its options, listing every problem', () => {
      const connect = () => amqp.connect(url);
      expect(() => amqpTransport(connect, { prefetch: 0 })).toThrow(InvalidOptionsError);
      try {
        amqpTransport(connect, { prefetch: -1, exchange: '', queueType: 'stream' as 'classic' });
      } catch (error) {
        expect((error as InvalidOptionsError).problems).toHaveLength(3);
      }
    });
  });
});
