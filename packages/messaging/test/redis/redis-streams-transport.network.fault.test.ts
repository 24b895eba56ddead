// The Redis Streams transport under network faults, through a fault proxy in front of the shared
// Redis: connections cut mid-call and while idle (the subscription's blocking read is held then),
// Redis unreachable for 5 s, silent for 10 s, 200 ms of latency, while one process publishes and
// one subscription consumes. One client, made before the faults, is never replaced (the
// subscription's reading connection is the transport's own). Afterwards every publish that
// resolved must have been handled; deliveries may repeat (at-least-once), and are counted.
import { createEnvelope, MessagingError } from '@bulwark/messaging';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import { describeWithServers, runFaultScenarios, uniqueName, useRedisBehindFaultProxy } from '@bulwark/test-support';
import { expect, it } from 'vitest';

const operationTimeoutMs = 2_000;

await describeWithServers('redisStreamsTransport under network faults (fault proxy)', ['redis'], ({ redis: url }) => {
  const harness = useRedisBehindFaultProxy(url);

  it('publishes settle within operationTimeoutMs, typed; the subscription recovers by itself; nothing published is lost', async () => {
    const backgroundErrors: string[] = [];
    const transport = redisStreamsTransport(harness.redis, {
      keyPrefix: `${uniqueName('streams-fault')}:`,
      operationTimeoutMs,
      blockMs: 1_000,
      claimIntervalMs: 500,
      visibilityTimeoutMs: 5_000,
      onError: (error) => backgroundErrors.push(error.code),
    });
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
      name: 'redisStreamsTransport',
      proxy: harness.proxy,
      load: publishOne,
      // Recovered: a message published now is handled by the same subscription.
      check: async () => {
        const id = await publishOne();
        const deadline = Date.now() + 2_000;
        while (!received.has(id)) {
          if (Date.now() > deadline) throw new MessagingError('NOT_YET', 'not delivered yet');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      callTimeoutMs: operationTimeoutMs,
      recoverWithinMs: 8_000,
      isTypedError: (error) => error instanceof MessagingError,
    });
    clearInterval(watchHealth);

    // Every publish that resolved is handled, redeliveries included, within the visibility timeout.
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
});
