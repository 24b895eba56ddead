import {
  createEnvelope,
  type Envelope,
  MessagingError,
  type Transport,
  UnroutableMessageError,
} from '@bulwark/messaging';
import { type NatsTransportOptions, natsTransport } from '@bulwark/messaging/nats';
import { transportConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describeWithServers, type FaultProxy, faultProxy, uniqueName } from '@bulwark/test-support';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const envelopes = (topic: string, count: number) =>
  Array.from({ length: count }, (_, index) => createEnvelope({ topic, type: 'test', payload: { index } }));

/** A promise that handlers wait on until the test calls `release`. */
const gate = () => {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { released, release };
};

const eventually = async (condition: () => boolean, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

await describeWithServers('natsTransport', ['nats'], ({ nats: url }) => {
  // One stream for this file (deleted at the end), so parallel runs and other engineers never meet.
  const stream = uniqueName('BULWARK_TEST').replace(/[^A-Za-z0-9_-]/g, '_');
  const subjectPrefix = stream.toLowerCase();
  const server = new URL(url);
  let admin: NatsConnection;
  let proxy: FaultProxy;
  beforeAll(async () => {
    admin = await connect({ servers: url });
    proxy = await faultProxy({ host: server.hostname, port: Number(server.port) || 4222 });
  });
  afterAll(async () => {
    const manager = await jetstreamManager(admin);
    await manager.streams.delete(stream).catch(() => {});
    await admin.close();
    await proxy.close();
  });

  const connections = new Map<Transport, NatsConnection>();
  /** A transport on its own connection through the fault proxy, so the suite can cut it. */
  const open = async (options: NatsTransportOptions = {}) => {
    const connection = await connect({
      servers: proxy.url(url).replace(/^nats:\/\//, ''),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 50,
      ignoreClusterUpdates: true,
    });
    const transport = natsTransport(connection, {
      stream,
      subjectPrefix,
      retryInitialMs: 50,
      pullExpiresMs: 1_000,
      ...options,
    });
    connections.set(transport, connection);
    return transport;
  };
  const dispose = async (transport: Transport) => {
    await connections.get(transport)?.close();
    connections.delete(transport);
  };

  transportConformance('natsTransport', {
    createTransport: ({ visibilityTimeoutMs }) => open({ visibilityTimeoutMs }),
    dispose,
    // The shared server must not be restarted: the proxy cuts every connection instead, as a
    // restart would (the private-server restart is in nats-broker-restart.fault.test.ts).
    restartServer: async () => {
      proxy.cutAll();
    },
  });

  describe('natsTransport (JetStream specifics)', () => {
    const opened: Transport[] = [];
    afterEach(async () => {
      for (const transport of opened.splice(0)) {
        await transport.close({ deadlineMs: 0 });
        await dispose(transport);
      }
    });
    const tracked = async (options: NatsTransportOptions = {}) => {
      const transport = await open(options);
      opened.push(transport);
      return transport;
    };

    it('refuses invalid options, listing every problem', () => {
      expect(() =>
        natsTransport(admin, { stream: 'a.b', subjectPrefix: 'x.>', prefetch: 0, pullExpiresMs: 10 }),
      ).toThrow(InvalidOptionsError);
      try {
        natsTransport(admin, { stream: 'a.b', subjectPrefix: 'x.>', prefetch: 0, pullExpiresMs: 10 });
      } catch (error) {
        expect((error as InvalidOptionsError).problems).toHaveLength(4);
      }
    });

    it('stores a message published twice (same topic and id) once: Nats-Msg-Id deduplication', async () => {
      const transport = await tracked();
      const topic = uniqueName('dedup');
      const received: string[] = [];
      await transport.subscribe(topic, 'group', async ({ message }) => {
        received.push(message.id);
      });
      const sent = envelopes(topic, 5);
      await transport.publish(topic, sent);
      await transport.publish(topic, sent);
      await transport.publish(topic, sent.slice(2));
      await eventually(() => received.length >= 5, 10_000, 'five deliveries');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(received.sort()).toEqual(sent.map((message) => message.id).sort());
    });

    it('keeps the same id on another topic apart (a dead letter keeps its id)', async () => {
      const transport = await tracked();
      const [first, second] = [uniqueName('one'), uniqueName('two')];
      const received: string[] = [];
      for (const topic of [first, second])
        await transport.subscribe(topic, 'group', async ({ message }) => {
          received.push(`${topic}:${message.id}`);
        });
      const [message] = envelopes(first, 1);
      if (!message) throw new Error('no message');
      await transport.publish(first, [message]);
      await transport.publish(second, [message]);
      await eventually(() => received.length === 2, 10_000, 'one delivery on each topic');
    });

    it('respects prefetch: no more unsettled deliveries than asked for', async () => {
      const transport = await tracked();
      const topic = uniqueName('prefetched');
      let running = 0;
      let maxRunning = 0;
      let handled = 0;
      const { released, release } = gate();
      await transport.subscribe(
        topic,
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
      await transport.publish(topic, envelopes(topic, 10));
      await eventually(() => running === 3, 5_000, 'three deliveries in flight');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(running).toBe(3);
      release();
      await eventually(() => handled === 10, 5_000, 'all 10 handled');
      expect(maxRunning).toBe(3);
    });

    it('frees a prefetch slot when its delivery is settled, though its handler still runs (as basic.qos)', async () => {
      const transport = await tracked();
      const topic = uniqueName('settled-early');
      let running = 0;
      const { released, release } = gate();
      await transport.subscribe(
        topic,
        'group',
        async (delivery) => {
          await delivery.ack();
          running += 1;
          await released;
        },
        { prefetch: 2 },
      );
      await transport.publish(topic, envelopes(topic, 6));
      // Each acked delivery frees its slot: all six reach a handler while none has returned.
      await eventually(() => running === 6, 5_000, 'six acked deliveries with their handlers still running');
      release();
    });

    it('refuses a publish to a topic with no group, and accepts it once another process declared one', async () => {
      const producer = await tracked();
      const other = await tracked();
      const topic = uniqueName('declared-elsewhere');
      const refused = await producer.publish(topic, envelopes(topic, 2)).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(UnroutableMessageError);
      expect((refused as UnroutableMessageError).count).toBe(2);
      await (other as Transport & { declareGroup(topic: string, group: string): Promise<void> }).declareGroup(
        topic,
        'billing',
      );
      await producer.publish(topic, envelopes(topic, 2));
      const received: string[] = [];
      await other.subscribe(topic, 'billing', async ({ message }) => {
        received.push(message.id);
      });
      await eventually(() => received.length === 2, 10_000, 'the two messages published after the declare');
    });

    it('reports health: up, degraded while the connection is cut, up again', async () => {
      const transport = await tracked();
      const topic = uniqueName('health');
      await transport.subscribe(topic, 'group', async () => {});
      expect(transport.health?.().status).toBe('up');
      await proxy.down();
      await eventually(() => transport.health?.().status === 'degraded', 10_000, 'degraded');
      await proxy.heal();
      await eventually(() => transport.health?.().status === 'up', 10_000, 'up again');
    });

    it('gives an existing group the visibility timeout of the process that declares it last', async () => {
      const topic = uniqueName('visibility');
      const first = await tracked({ visibilityTimeoutMs: 30_000 });
      await first.declareGroup(topic, 'group');
      const later = await tracked({ visibilityTimeoutMs: 5_000 });
      await later.declareGroup(topic, 'group');
      const manager = await jetstreamManager(admin);
      const consumers: number[] = [];
      for await (const info of manager.consumers.list(stream)) {
        if (info.config.filter_subject?.endsWith(topic)) consumers.push(info.config.ack_wait ?? 0);
      }
      expect(consumers).toEqual([5_000 * 1_000_000]);
    });

    /** Subscribes group `billing` to `orders` and waits for one message through it; returns what it receives. */
    const receivingOrders = async (transport: Transport): Promise<string[]> => {
      const received: string[] = [];
      await transport.subscribe('orders', 'billing', async (delivery) => {
        received.push(delivery.message.id);
      });
      const [before] = envelopes('orders', 1) as [Envelope];
      await transport.publish('orders', [before]);
      await eventually(() => received.length === 1, 10_000, 'the message published before the delete');
      return received;
    };
    /** Publishes to `orders` every 100 ms until one of them is received; resolves with the publishes that failed. */
    const probeUntilReceived = async (transport: Transport, received: readonly string[]): Promise<unknown[]> => {
      const failures: unknown[] = [];
      const deadline = Date.now() + 20_000;
      const probes: string[] = [];
      while (!probes.some((id) => received.includes(id))) {
        if (Date.now() > deadline) throw new Error(`not recovered; failures: ${failures.map(String).join('; ')}`);
        const [probe] = envelopes('orders', 1) as [Envelope];
        try {
          await transport.publish('orders', [probe]);
          probes.push(probe.id);
        } catch (error) {
          failures.push(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return failures;
    };

    it('creates its stream and the group consumers again when the stream is deleted while it runs', async () => {
      const own = uniqueName('BULWARK_GONE').replace(/[^A-Za-z0-9_-]/g, '_');
      const transport = await tracked({ stream: own, subjectPrefix: own.toLowerCase() });
      const manager = await jetstreamManager(admin);
      try {
        const received = await receivingOrders(transport);
        // Deleting a stream deletes what it holds, and what is accepted while the stream and its
        // consumers are being made again may go with it; what the transport promises is to
        // recover by itself, failing publishes (typed) until it has.
        await manager.streams.delete(own);
        const failures = await probeUntilReceived(transport, received);
        expect(failures.every((error) => error instanceof MessagingError)).toBe(true);
        const [after] = envelopes('orders', 1) as [Envelope];
        await transport.publish('orders', [after]);
        await eventually(() => received.includes(after.id), 10_000, 'a message published once it recovered');
      } finally {
        // Closed first: a transport still running would make the stream again after this delete.
        await transport.close({ deadlineMs: 0 });
        await manager.streams.delete(own).catch(() => {});
      }
    });

    it('waits before it creates its deleted stream again: one made while nats-server 2.9 still deletes the old one loses its files', async () => {
      const own = uniqueName('BULWARK_SETTLE').replace(/[^A-Za-z0-9_-]/g, '_');
      const clock = manualClock(Date.now());
      const warnings: MessagingError[] = [];
      const transport = await tracked({
        stream: own,
        subjectPrefix: own.toLowerCase(),
        clock,
        onError: (warning) => warnings.push(warning),
      });
      const manager = await jetstreamManager(admin);
      const streamExists = () =>
        manager.streams.info(own).then(
          () => true,
          () => false,
        );
      let ticking: ReturnType<typeof setInterval> | undefined;
      try {
        const received = await receivingOrders(transport);
        // The server ends the waiting pulls ('consumer deleted') in the middle of the deletion, after
        // a create of the name would already succeed and before it removes the stream's files.
        await manager.streams.delete(own);
        await eventually(() => warnings.some((warning) => warning.code === 'PULL_FAILED'), 10_000, 'a failed pull');
        // With the clock still, the stream stays deleted: the subscription does not make it again
        // into the directory the server is about to remove (it did so within milliseconds).
        const watchUntil = Date.now() + 500;
        while (Date.now() < watchUntil) {
          expect(await streamExists()).toBe(false);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }

        // Time goes on: it makes the stream and the group again and delivers what is published then.
        ticking = setInterval(() => clock.advance(50), 10);
        await probeUntilReceived(transport, received);
        expect(await streamExists()).toBe(true);
      } finally {
        await transport.close({ deadlineMs: 0 });
        clearInterval(ticking);
        await manager.streams.delete(own).catch(() => {});
      }
    });
  });
});
