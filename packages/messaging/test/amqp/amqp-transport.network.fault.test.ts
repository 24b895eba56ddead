// The AMQP transport under network faults, through a fault proxy in front of the shared RabbitMQ:
// connections cut mid-call and while idle (the consumer's channel is held then), the broker
// unreachable for 5 s, silent for 10 s, 200 ms of latency, while one process publishes and one
// subscription consumes. The transport is given a connection factory (what lets it reconnect);
// the test never makes a connection itself. Afterwards every confirmed publish must have been
// handled; deliveries may repeat (at-least-once), and are counted.
import { createEnvelope, MessagingError } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { describeWithServers, type FaultProxy, faultProxy, runFaultScenarios, uniqueName } from '@bulwark/test-support';
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';

const operationTimeoutMs = 2_000;
const publishAttempts = 2;

await describeWithServers('amqpTransport under network faults (fault proxy)', ['amqp'], ({ amqp: url }) => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    const { hostname, port } = new URL(url);
    proxy = await faultProxy({ host: hostname, port: Number(port) || 5672 });
  });
  afterAll(() => proxy.close());

  it('publishes settle within their bound, typed; the subscription recovers by itself; nothing confirmed is lost', async () => {
    // The connection options we tell users to set: a heartbeat ends a connection that went silent,
    // and `timeout` bounds the handshake of a new one.
    const proxied = new URL(proxy.url(url));
    proxied.searchParams.set('heartbeat', '2');
    const connectionName = uniqueName('bulwark-amqp-network');
    const backgroundErrors: string[] = [];
    const transport = amqpTransport(
      () =>
        amqp.connect(proxied.toString(), {
          noDelay: true,
          timeout: 3_000,
          clientProperties: { connection_name: connectionName },
        }),
      {
        exchange: uniqueName('bulwark-network'),
        queuePrefix: `${connectionName}:`,
        queueArguments: { 'x-expires': 120_000 },
        operationTimeoutMs,
        publishAttempts,
        reconnectInitialMs: 50,
        reconnectMaxMs: 1_000,
        onError: (error) => backgroundErrors.push(error.code),
      },
    );
    const topic = 'orders';
    const received = new Map<string, number>();
    const subscription = await transport.subscribe(topic, 'billing', async ({ message }) => {
      received.set(message.id, (received.get(message.id) ?? 0) + 1);
    });
    const published: string[] = [];
    const healthSeen = new Set<string>();
    const watchHealth = setInterval(() => healthSeen.add(transport.health().status), 50);
    const publishOne = async () => {
      const message = createEnvelope({ topic, type: 'order.placed', payload: { at: Date.now() } });
      await transport.publish(topic, [message]);
      published.push(message.id);
      return message.id;
    };
    const report = await runFaultScenarios({
      name: 'amqpTransport',
      proxy,
      load: publishOne,
      check: async () => {
        const id = await publishOne();
        const deadline = Date.now() + 2_000;
        while (!received.has(id)) {
          if (Date.now() > deadline) throw new MessagingError('NOT_YET', 'not delivered yet');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      // Each attempt waits at most operationTimeoutMs, with a reconnect backoff between them.
      callTimeoutMs: publishAttempts * operationTimeoutMs + 1_000,
      recoverWithinMs: 10_000,
      isTypedError: (error) => error instanceof MessagingError,
    });
    clearInterval(watchHealth);

    const deadline = Date.now() + 15_000;
    while (published.some((id) => !received.has(id)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const lost = published.filter((id) => !received.has(id)).length;
    const doubled = [...received.values()].filter((count) => count > 1).length;
    const health = transport.health();
    await subscription.close({ deadlineMs: 2_000 });
    await transport.close();
    console.log(
      report.summary({
        published: published.length,
        lost,
        'delivered more than once (at-least-once)': doubled,
        'health states seen': [...healthSeen].join('/'),
        'background errors reported': backgroundErrors.length,
      }),
    );
    expect(report.problems).toEqual([]);
    expect(lost).toBe(0);
    expect(healthSeen).toContain('degraded');
    expect(health.status).toBe('up');
  }, 85_000);

  it('regression: declareGroup and snapshot on a silent broker settle within operationTimeoutMs, typed (they waited until the heartbeat ended the connection, then failed untyped)', async () => {
    const proxied = new URL(proxy.url(url));
    proxied.searchParams.set('heartbeat', '2');
    const connectionName = uniqueName('bulwark-amqp-silent');
    const transport = amqpTransport(() => amqp.connect(proxied.toString(), { noDelay: true, timeout: 3_000 }), {
      exchange: uniqueName('bulwark-silent'),
      queuePrefix: `${connectionName}:`,
      queueArguments: { 'x-expires': 60_000 },
      operationTimeoutMs: 1_000,
      reconnectMaxMs: 500,
    });
    await transport.declareGroup('orders', 'billing');
    proxy.blackhole();
    try {
      const startedAt = performance.now();
      await expect(transport.declareGroup('orders', 'shipping')).rejects.toMatchObject({ code: 'BROKER_TIMEOUT' });
      expect(performance.now() - startedAt).toBeLessThan(1_000 + 2_000);
      // snapshot() answers what it can (nothing), in time, rather than hanging a dashboard.
      expect(await transport.snapshot()).toEqual([]);
    } finally {
      await proxy.heal();
    }
    await expect
      .poll(
        () =>
          transport.declareGroup('orders', 'shipping').then(
            () => 'declared',
            () => 'failed',
          ),
        {
          timeout: 15_000,
          interval: 200,
        },
      )
      .toBe('declared');
    expect(transport.health().status).toBe('up');
    await transport.close();
  }, 30_000);
});
