import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { consume } from '../consumer/consumer.js';
import { consumerDefaults } from '../consumer/consumer-options.js';
import { deadLetterHeaders } from '../dead-letter/dead-letter-headers.js';
import { createEnvelope, type Envelope } from '../envelope/envelope.js';
import { type JsonEnvelope, trustedJsonEnvelope, trustedJsonEnvelopeOf } from '../envelope/json-envelope.js';
import { toJsonEnvelope } from '../envelope/to-json-envelope.js';
import type { Delivery, PublishOptions, Subscription, Transport } from '../transport/transport.js';
import { TransportClosedError, UnroutableMessageError } from '../transport/transport-errors.js';
import { transportAwkwardTextConformance } from './transport-awkward-text-conformance.js';

/** What the suite asks of the factory for one test. */
export interface TransportTestSettings {
  /**
   * The visibility timeout the transport should use, for transports that have one. Short (a
   * couple of seconds) so the visibility test runs fast; every other test settles well within it.
   */
  readonly visibilityTimeoutMs: number;
}

/** Options of {@link transportConformance}. */
export interface TransportConformanceOptions {
  /**
   * Makes a fresh transport for one test. The suite closes it after the test (through
   * `transport.close()`, then `dispose` if given). Topics and groups are unique per test.
   */
  createTransport(settings: TransportTestSettings): Promise<Transport> | Transport;
  /** Releases what `createTransport` made beyond the transport itself (a pool, a connection). */
  dispose?(transport: Transport): Promise<void>;
  /**
   * Restarts the server, or drops every connection the transport holds (e.g. `pg_terminate_backend`
   * on its own backends), and resolves once the server accepts connections again. Required when
   * the transport declares `persistent: true`: the suite then checks that publishing and
   * subscriptions survive it. A non-persistent transport has no server and skips that test.
   */
  restartServer?(transport: Transport): Promise<void>;
  /** How long to wait for expected deliveries. @defaultValue 10_000 */
  timeoutMs?: number;
  /** Visibility timeout handed to `createTransport`. @defaultValue 1_500 */
  visibilityTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds or `timeoutMs` passes (then fails with `what`). */
async function eventually(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(10);
  }
}

/** A promise with its resolve exposed. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

interface Received {
  readonly id: string;
  readonly subscriber: string;
  readonly deliveryCount: number;
  readonly message: Envelope;
}

/**
 * The universal Transport test suite, in the spirit of Watermill's pub/sub tests: every adapter
 * (ours and third parties') runs it on its real server. Tests a transport does not promise are
 * skipped through its declared {@link Transport.capabilities}, and only through them.
 *
 * Covers: publish/subscribe with the envelope intact, redelivery after a failed handler and after
 * a nack (with delay where supported), redelivery after a subscriber dies without acking,
 * competing consumers in one group, fan-out to several groups, ordering as declared, the
 * visibility timeout where declared, close with messages in flight (drained, or given back past
 * the deadline), transport close, reconnection after a server restart (persistent transports), a
 * publish to a topic without a group (held for a later group, or refused with
 * `UnroutableMessageError`, as `capabilities.unroutable` says; never accepted and dropped), and a
 * `consume()` on the transport whose dead letters outlive a missing dead-letter subscriber and a
 * failing dead-letter publish.
 *
 * @example
 * ```ts
 * // test/transport/memory-transport.test.ts
 * import { memoryTransport } from '@bulwark/messaging';
 * import { transportConformance } from '@bulwark/messaging/testing';
 * transportConformance('memoryTransport', {
 *   createTransport: ({ visibilityTimeoutMs }) => memoryTransport({ visibilityTimeoutMs }),
 * });
 * ```
 */
export function transportConformance(name: string, options: TransportConformanceOptions): void {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 1_500;
  const testTimeout = timeoutMs * 3 + visibilityTimeoutMs * 2;

  describe(`Transport conformance: ${name}`, () => {
    let opened: Transport[] = [];

    const open = async (): Promise<Transport> => {
      const transport = await options.createTransport({ visibilityTimeoutMs });
      opened.push(transport);
      return transport;
    };

    afterEach(async () => {
      const transports = opened;
      opened = [];
      for (const transport of transports) {
        await transport.close({ deadlineMs: 0 });
        await options.dispose?.(transport);
      }
    });

    const names = () => {
      const id = randomUUID().slice(0, 8);
      return { topic: `conformance.${id}`, group: `group-${id}` };
    };

    const messages = (topic: string, count: number, init: { key?: (index: number) => string | undefined } = {}) =>
      Array.from({ length: count }, (_, index) => {
        const key = init.key?.(index);
        return createEnvelope({
          topic,
          type: 'conformance.test',
          payload: { index, text: `message ${index}` },
          headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', custom: 'yes' },
          ...(key === undefined ? {} : { key }),
        });
      });

    /** Subscribes and records what arrives; the handler may be replaced per call. */
    const recorder = async (
      transport: Transport,
      topic: string,
      group: string,
      subscriber: string,
      handle: (delivery: Delivery, received: Received) => Promise<void> = async () => {},
      prefetch = 10,
    ): Promise<{ subscription: Subscription; received: Received[] }> => {
      const received: Received[] = [];
      const subscription = await transport.subscribe(
        topic,
        group,
        async (delivery) => {
          const entry = {
            id: delivery.message.id,
            subscriber,
            deliveryCount: delivery.deliveryCount,
            message: delivery.message,
          };
          received.push(entry);
          await handle(delivery, entry);
        },
        { prefetch },
      );
      return { subscription, received };
    };

    const ids = (list: readonly Received[]) => list.map((entry) => entry.id);

    it(
      'delivers every published message once to a subscriber, envelope intact',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a');
        const sent = messages(topic, 50, { key: (index) => (index % 2 ? `k${index % 5}` : undefined) });
        await transport.publish(topic, sent.slice(0, 1));
        await transport.publish(topic, sent.slice(1));
        await eventually(
          () => received.length >= sent.length,
          timeoutMs,
          () => `${sent.length} deliveries (got ${received.length})`,
        );
        await sleep(100);
        expect(new Set(ids(received)).size).toBe(received.length);
        expect([...ids(received)].sort()).toEqual(sent.map((message) => message.id).sort());
        for (const entry of received) {
          const original = sent.find((message) => message.id === entry.id) as Envelope;
          expect(entry.message).toEqual(original);
          expect(entry.deliveryCount).toBe(1);
        }
      },
      testTimeout,
    );

    it(
      'publishes nothing visible when given an empty batch',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a');
        await transport.publish(topic, []);
        const [only] = messages(topic, 1);
        await transport.publish(topic, [only as Envelope]);
        await eventually(
          () => received.length === 1,
          timeoutMs,
          () => 'one delivery',
        );
      },
      testTimeout,
    );

    it(
      'redelivers a message whose handler failed, counting deliveries',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a', async (_delivery, entry) => {
          if (entry.deliveryCount < 3) throw new Error('handler failed');
        });
        const sent = messages(topic, 3);
        await transport.publish(topic, sent);
        await eventually(
          () => received.length >= 9,
          timeoutMs,
          () => `three deliveries of each message (got ${received.length})`,
        );
        for (const message of sent) {
          const counts = received.filter((entry) => entry.id === message.id).map((entry) => entry.deliveryCount);
          expect(counts).toEqual(transport.capabilities.deliveryCount ? [1, 2, 3] : [1, 2, 2]);
        }
      },
      testTimeout,
    );

    it(
      'redelivers a nacked message, not an acked one',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a', async (delivery) => {
          if (delivery.message.payload && (delivery.message.payload as { index: number }).index === 0) {
            if (delivery.deliveryCount === 1) await delivery.nack();
            else await delivery.ack();
          } else {
            await delivery.ack();
            await delivery.nack(); // settling twice does nothing
          }
        });
        const sent = messages(topic, 2);
        await transport.publish(topic, sent);
        await eventually(
          () => received.length >= 3,
          timeoutMs,
          () => 'the nacked message again',
        );
        await sleep(300);
        expect(received.filter((entry) => entry.id === sent[0]?.id)).toHaveLength(2);
        expect(received.filter((entry) => entry.id === sent[1]?.id)).toHaveLength(1);
      },
      testTimeout,
    );

    it(
      'honours a nack delay where delayed delivery is declared',
      async (context) => {
        const transport = await open();
        if (!transport.capabilities.delayedDelivery) context.skip('delayedDelivery: false');
        const { topic, group } = names();
        const seenAt: number[] = [];
        const { received } = await recorder(transport, topic, group, 'a', async (delivery) => {
          seenAt.push(Date.now());
          if (delivery.deliveryCount === 1) await delivery.nack({ delayMs: 700 });
        });
        await transport.publish(topic, messages(topic, 1));
        await eventually(
          () => received.length >= 2,
          timeoutMs,
          () => 'the delayed redelivery',
        );
        expect((seenAt[1] as number) - (seenAt[0] as number)).toBeGreaterThanOrEqual(600);
      },
      testTimeout,
    );

    it(
      'delays a publish where delayed delivery is declared',
      async (context) => {
        const transport = await open();
        if (!transport.capabilities.delayedDelivery) context.skip('delayedDelivery: false');
        const { topic, group } = names();
        const seenAt: number[] = [];
        const { received } = await recorder(transport, topic, group, 'a', async () => {
          seenAt.push(Date.now());
        });
        const publishedAt = Date.now();
        await transport.publish(topic, messages(topic, 2), { delayMs: 700 });
        await eventually(
          () => received.length >= 2,
          timeoutMs,
          () => 'the delayed messages',
        );
        for (const at of seenAt) expect(at - publishedAt).toBeGreaterThanOrEqual(600);
      },
      testTimeout,
    );

    it(
      'redelivers what a subscriber held when it died without acking',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const never = gate();
        const first = await recorder(transport, topic, group, 'dying', () => never.promise, 10);
        const sent = messages(topic, 5);
        await transport.publish(topic, sent);
        await eventually(
          () => first.received.length === 5,
          timeoutMs,
          () => `the dying subscriber to hold 5 (holds ${first.received.length})`,
        );
        // The subscriber dies: it stops at once and its deliveries are given back.
        await first.subscription.close({ deadlineMs: 0 });
        const second = await recorder(transport, topic, group, 'survivor');
        await eventually(
          () => second.received.length >= 5,
          timeoutMs,
          () => `redelivery of 5 (got ${second.received.length})`,
        );
        expect([...new Set(ids(second.received))].sort()).toEqual(sent.map((message) => message.id).sort());
        for (const entry of second.received) expect(entry.deliveryCount).toBeGreaterThanOrEqual(2);
        never.open();
      },
      testTimeout,
    );

    it(
      'shares one group between competing consumers, each message handled once',
      async (context) => {
        const transport = await open();
        if (!transport.capabilities.consumerGroups) context.skip('consumerGroups: false');
        const { topic, group } = names();
        const slow = async () => sleep(5);
        const a = await recorder(transport, topic, group, 'a', slow, 1);
        const b = await recorder(transport, topic, group, 'b', slow, 1);
        const sent = messages(topic, 60);
        await transport.publish(topic, sent);
        const all = () => [...a.received, ...b.received];
        await eventually(
          () => all().length >= sent.length,
          timeoutMs,
          () => `${sent.length} deliveries (got ${all().length})`,
        );
        await sleep(200);
        expect(all()).toHaveLength(sent.length);
        expect(new Set(ids(all())).size).toBe(sent.length);
        expect(a.received.length).toBeGreaterThan(0);
        expect(b.received.length).toBeGreaterThan(0);
      },
      testTimeout,
    );

    it(
      'fans every message out to every group',
      async (context) => {
        const transport = await open();
        if (!transport.capabilities.consumerGroups) context.skip('consumerGroups: false');
        const { topic } = names();
        const groups = ['billing', 'shipping', 'audit'].map((group) => `${group}-${randomUUID().slice(0, 6)}`);
        const recorders = await Promise.all(groups.map((group) => recorder(transport, topic, group, group)));
        const sent = messages(topic, 20);
        await transport.publish(topic, sent);
        for (const { received } of recorders) {
          await eventually(
            () => received.length >= sent.length,
            timeoutMs,
            () => `fan-out of ${sent.length} (got ${received.length})`,
          );
        }
        await sleep(100);
        for (const { received } of recorders) {
          expect([...ids(received)].sort()).toEqual(sent.map((message) => message.id).sort());
        }
      },
      testTimeout,
    );

    it(
      'keeps publish order for one subscriber where ordering is declared',
      async (context) => {
        const transport = await open();
        if (transport.capabilities.ordering === 'none') context.skip('ordering: none');
        const { topic, group } = names();
        const key = 'same-key';
        const { received } = await recorder(transport, topic, group, 'a', async () => {}, 1);
        const sent = messages(topic, 40, { key: () => key });
        for (let start = 0; start < sent.length; start += 10) {
          await transport.publish(topic, sent.slice(start, start + 10));
        }
        await eventually(
          () => received.length >= sent.length,
          timeoutMs,
          () => `${sent.length} deliveries`,
        );
        expect(ids(received)).toEqual(sent.map((message) => message.id));
      },
      testTimeout,
    );

    it(
      'hands out one message per key at a time, in order, across competing consumers and redeliveries (per-key)',
      async (context) => {
        const transport = await open();
        if (transport.capabilities.ordering !== 'per-key') context.skip(`ordering: ${transport.capabilities.ordering}`);
        const { topic, group } = names();
        const keys = ['k1', 'k2', 'k3'];
        const busy = new Set<string>();
        const violations: string[] = [];
        const completed = new Map<string, number[]>();
        let failedOnce = false;
        const handle = async (delivery: Delivery) => {
          const key = delivery.message.key as string;
          const index = (delivery.message.payload as { index: number }).index;
          if (busy.has(key)) violations.push(`key ${key} handed out twice at once (index ${index})`);
          busy.add(key);
          await sleep(Math.floor(Math.random() * 4));
          busy.delete(key);
          if (index === 4 && !failedOnce) {
            failedOnce = true;
            throw new Error('fail once to force a redelivery in the middle of the key');
          }
          completed.set(key, [...(completed.get(key) ?? []), index]);
        };
        const a = await recorder(transport, topic, group, 'a', handle, 4);
        const b = await recorder(transport, topic, group, 'b', handle, 4);
        const sent = messages(topic, 45, { key: (index) => keys[index % keys.length] });
        await transport.publish(topic, sent);
        await eventually(
          () => [...completed.values()].reduce((sum, list) => sum + list.length, 0) >= sent.length,
          timeoutMs,
          () => `${sent.length} handled (${[...a.received, ...b.received].length} deliveries)`,
        );
        expect(violations).toEqual([]);
        for (const [position, key] of keys.entries()) {
          const expected = sent.map((_, index) => index).filter((index) => index % keys.length === position);
          expect(completed.get(key)).toEqual(expected);
        }
      },
      testTimeout,
    );

    it(
      'redelivers a delivery held past the visibility timeout where declared',
      async (context) => {
        const transport = await open();
        if (!transport.capabilities.visibilityTimeout) context.skip('visibilityTimeout: false');
        const { topic, group } = names();
        const stuck = gate();
        const a = await recorder(transport, topic, group, 'stuck', () => stuck.promise, 1);
        const [message] = messages(topic, 1);
        await transport.publish(topic, [message as Envelope]);
        await eventually(
          () => a.received.length >= 1,
          timeoutMs,
          () => 'the first delivery',
        );
        const deliveredAt = Date.now();
        // The first holder is alive but stuck: another member of the group gets it after the timeout.
        const b = await recorder(transport, topic, group, 'b', async () => {}, 1);
        await eventually(
          () => b.received.length >= 1,
          timeoutMs + visibilityTimeoutMs * 2,
          () => 'the redelivery after the visibility timeout',
        );
        expect(Date.now() - deliveredAt).toBeGreaterThanOrEqual(visibilityTimeoutMs * 0.8);
        expect(b.received[0]?.id).toBe(message?.id);
        expect(b.received[0]?.deliveryCount).toBe(2);
        stuck.open();
      },
      testTimeout,
    );

    it(
      'closes a subscription with a message in flight: waits for it, acks it, takes nothing more',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const release = gate();
        const first = await recorder(transport, topic, group, 'first', () => release.promise, 1);
        const sent = messages(topic, 5);
        await transport.publish(topic, sent);
        await eventually(
          () => first.received.length === 1,
          timeoutMs,
          () => 'the first delivery',
        );
        let closed = false;
        const closing = first.subscription.close({ deadlineMs: timeoutMs }).then(() => {
          closed = true;
        });
        await sleep(100);
        expect(closed).toBe(false);
        release.open();
        await closing;
        expect(first.received).toHaveLength(1);
        const second = await recorder(transport, topic, group, 'second');
        await eventually(
          () => second.received.length >= 4,
          timeoutMs,
          () => `the other 4 (got ${second.received.length})`,
        );
        await sleep(200);
        expect(ids(second.received).sort()).toEqual(
          sent
            .map((message) => message.id)
            .filter((id) => id !== first.received[0]?.id)
            .sort(),
        );
      },
      testTimeout,
    );

    it(
      'closes a subscription whose handler outlives the deadline: the delivery comes back',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const never = gate();
        const first = await recorder(transport, topic, group, 'first', () => never.promise, 1);
        const [message] = messages(topic, 1);
        await transport.publish(topic, [message as Envelope]);
        await eventually(
          () => first.received.length === 1,
          timeoutMs,
          () => 'the first delivery',
        );
        const started = Date.now();
        await first.subscription.close({ deadlineMs: 200 });
        expect(Date.now() - started).toBeGreaterThanOrEqual(150);
        const second = await recorder(transport, topic, group, 'second');
        await eventually(
          () => second.received.length >= 1,
          timeoutMs,
          () => 'the redelivery',
        );
        expect(second.received[0]?.id).toBe(message?.id);
        expect(second.received[0]?.deliveryCount).toBeGreaterThanOrEqual(2);
        never.open();
      },
      testTimeout,
    );

    it(
      'rejects publish and subscribe once the transport is closed, and stops its subscriptions',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a');
        await transport.close();
        await expect(transport.publish(topic, messages(topic, 1))).rejects.toBeInstanceOf(TransportClosedError);
        await expect(transport.subscribe(topic, group, async () => {})).rejects.toBeInstanceOf(TransportClosedError);
        const other = await open();
        await other.publish(topic, messages(topic, 1));
        await sleep(300);
        expect(received).toHaveLength(0);
      },
      testTimeout,
    );

    it(
      'reconnects after the server restarts: publishing and subscriptions go on',
      async (context) => {
        const transport = await open();
        if (!transport.capabilities.persistent) context.skip('persistent: false (no server to restart)');
        if (!options.restartServer) {
          throw new Error('A persistent transport must give the conformance suite a restartServer hook');
        }
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a');
        const before = messages(topic, 10);
        await transport.publish(topic, before);
        await eventually(
          () => received.length >= 10,
          timeoutMs,
          () => 'the messages before the restart',
        );
        await options.restartServer(transport);
        const after = messages(topic, 10);
        // Publishing right after a restart may meet a dead connection once; callers retry.
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          try {
            await transport.publish(topic, after);
            break;
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await sleep(100);
          }
        }
        await eventually(
          () => new Set(ids(received)).size >= 20,
          timeoutMs * 2,
          () => `the messages after the restart (${new Set(ids(received)).size} of 20)`,
        );
        expect([...new Set(ids(received))].sort()).toEqual([...before, ...after].map((message) => message.id).sort());
      },
      testTimeout * 2,
    );
    it(
      'never accepts and drops a message for a topic without a group: held for a later group, or refused',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const early = messages(topic, 3, { key: (index) => (index === 2 ? 'k' : undefined) });
        const refused = await transport.publish(topic, early).then(
          () => undefined,
          (error: unknown) => error,
        );
        const { received } = await recorder(transport, topic, group, 'late');
        const later = messages(topic, 2);
        await transport.publish(topic, later);
        if (transport.capabilities.unroutable === 'held') {
          expect(refused).toBeUndefined();
          const expected = [...early, ...later].map((message) => message.id).sort();
          await eventually(
            () => new Set(ids(received)).size >= expected.length,
            timeoutMs,
            () => `the held and the later messages (got ${received.length} of ${expected.length})`,
          );
          expect([...new Set(ids(received))].sort()).toEqual(expected);
        } else {
          expect(refused).toBeInstanceOf(UnroutableMessageError);
          expect((refused as UnroutableMessageError).code).toBe('MESSAGE_UNROUTABLE');
          expect((refused as UnroutableMessageError).topic).toBe(topic);
          await eventually(
            () => received.length >= later.length,
            timeoutMs,
            () => `the messages published once the group existed (got ${received.length})`,
          );
          await sleep(100);
          // Refused means not published: none of the early messages shows up.
          expect([...ids(received)].sort()).toEqual(later.map((message) => message.id).sort());
        }
      },
      testTimeout,
    );

    it(
      'consumer: a dead letter for a dead-letter topic nobody subscribed yet reaches a later subscriber',
      async () => {
        const transport = await open();
        const { topic, group } = names();
        const deadLetterTopic = `${topic}.dead-letter`;
        const consumer = await consume(transport, {
          topic,
          group,
          retry: false,
          deadLetter: deadLetterTopic,
          handler: () => {
            throw new Error('always fails');
          },
        });
        let deadLettered = 0;
        consumer.on('message-dead-lettered', () => {
          deadLettered += 1;
        });
        const [failing] = messages(topic, 1);
        await transport.publish(topic, [failing as Envelope]);
        await eventually(
          () => deadLettered === 1,
          timeoutMs,
          () => 'the dead letter to be published',
        );
        await consumer.close({ deadlineMs: 0 });
        // Only now does anyone subscribe to the dead-letter topic, in the group the consumer declared.
        const { received } = await recorder(transport, deadLetterTopic, consumerDefaults.deadLetterGroup, 'late');
        await eventually(
          () => received.length >= 1,
          timeoutMs,
          () => 'the dead letter',
        );
        expect(received[0]?.id).toBe(failing?.id);
        expect(received[0]?.message.headers[deadLetterHeaders.error]).toBe('always fails');
      },
      testTimeout,
    );

    it(
      'consumer: a failing dead-letter publish leaves the original unacked, redelivered and dead-lettered later',
      async () => {
        const real = await open();
        const { topic, group } = names();
        const deadLetterTopic = `${topic}.dead-letter`;
        let refusals = 1;
        // The real transport, except that the first dead-letter publish fails.
        const transport: Transport = Object.create(real, {
          publish: {
            value: (target: string, batch: readonly Envelope[], publishOptions?: PublishOptions) => {
              if (target === deadLetterTopic && refusals > 0) {
                refusals -= 1;
                return Promise.reject(new Error('dead-letter topic unavailable'));
              }
              return real.publish(target, batch, publishOptions);
            },
          },
        });
        const { received } = await recorder(real, deadLetterTopic, 'inspect', 'inspect');
        const deliveries: number[] = [];
        const consumer = await consume(transport, {
          topic,
          group,
          retry: false,
          deadLetter: deadLetterTopic,
          handler: (_message, context) => {
            deliveries.push(context.deliveryCount);
            throw new Error('always fails');
          },
        });
        const [failing] = messages(topic, 1);
        await real.publish(topic, [failing as Envelope]);
        // The nack after the failed dead-letter publish waits the consumer's last retry delay (1 s).
        await eventually(
          () => received.length >= 1,
          timeoutMs + 2_000,
          () => `the dead letter after a redelivery (deliveries: ${deliveries.join(', ')})`,
        );
        await consumer.close({ deadlineMs: 0 });
        expect(deliveries.length).toBeGreaterThanOrEqual(2);
        expect(received[0]?.id).toBe(failing?.id);
        expect(consumer.snapshot()).toMatchObject({ deadLettered: 1, failed: 1 });
      },
      testTimeout + 2_000,
    );

    it(
      'publishJson (where present): envelopes given as JSON text, keys reordered and spaced as jsonb writes them, arrive intact and in order',
      async (context) => {
        const transport = await open();
        if (!transport.publishJson) context.skip('no publishJson');
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a', async () => {}, 1);
        const sent = [
          ...messages(topic, 20, { key: (index) => (index % 3 ? `k${index % 4}` : undefined) }),
          createEnvelope({
            topic,
            type: 'conformance.json',
            groupId: 'g-1',
            payload: { text: 'ünïcödé ✓ \u2028 "quoted"', nested: { list: [1, 2.5, null, true], empty: {} } },
            headers: { correlationId: 'c-1', causationId: 'cause-1' },
          }),
        ];
        const json = sent.map(jsonbEnvelopeOf);
        await transport.publishJson?.(topic, json.slice(0, 1));
        await transport.publishJson?.(topic, json.slice(1));
        await transport.publishJson?.(topic, []);
        await eventually(
          () => received.length >= sent.length,
          timeoutMs,
          () => `${sent.length} deliveries (got ${received.length})`,
        );
        await sleep(100);
        expect(ids(received)).toEqual(sent.map((message) => message.id));
        for (const [index, entry] of received.entries()) expect(entry.message).toEqual(sent[index]);
      },
      testTimeout,
    );

    it(
      'publishJson (where present): takes what toJsonEnvelope made; refuses a whole batch holding an object that only looks like a JsonEnvelope, or a field no transport sends, before sending anything',
      async (context) => {
        const transport = await open();
        if (!transport.publishJson) context.skip('no publishJson');
        const { topic, group } = names();
        const { received } = await recorder(transport, topic, group, 'a');
        const [first, second] = messages(topic, 2) as [Envelope, Envelope];
        const checked = toJsonEnvelope(JSON.stringify(first));
        const { json, id, type } = jsonbEnvelopeOf(second);
        const refused: Array<[string, unknown, string]> = [
          // What a caller could hand over without toJsonEnvelope: the fields, and text never checked.
          ['an object literal', { json, id, topic, type }, 'message'],
          ['a copy of a JsonEnvelope', { ...checked }, 'message'],
          ['a copy with other text', { ...checked, json: '{"id": "truncated' }, 'message'],
          ['text that is not JSON', { json: 'not json', id, topic, type }, 'message'],
          ['null', null, 'message'],
          // Columns of an outbox row written by hand in SQL are still checked.
          ['an empty id', trustedJsonEnvelope({ json, id: '', topic, type }), 'message.id'],
          ['a type past 64 KiB', trustedJsonEnvelope({ json, id, topic, type: 't'.repeat(70_000) }), 'message.type'],
        ];
        for (const [label, message, field] of refused)
          await expect(
            transport.publishJson?.(topic, [checked, message as JsonEnvelope]),
            `${label} is refused`,
          ).rejects.toMatchObject({ name: 'InvalidMessagingValueError', code: 'INVALID_VALUE', field });
        await transport.publishJson?.(topic, [checked]);
        await eventually(
          () => received.length >= 1,
          timeoutMs,
          () => 'the delivery of the accepted message',
        );
        await sleep(100);
        expect(received.map((entry) => entry.message)).toEqual([first]);
      },
      testTimeout,
    );

    transportAwkwardTextConformance({ open, names, timeoutMs });
  });
}

/**
 * `message` as the PostgreSQL outbox hands it to `publishJson`: a {@link JsonEnvelope} whose text
 * is written as PostgreSQL writes `jsonb` out (keys ordered by length, then bytes, and a space after
 * every `:` and `,`), made without parsing, as the outbox makes it.
 */
function jsonbEnvelopeOf(message: Envelope): JsonEnvelope {
  return trustedJsonEnvelopeOf(message, jsonbText(message));
}

function jsonbText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(jsonbText).join(', ')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const entries = Object.entries(value).filter(([, member]) => member !== undefined);
  entries.sort(([first], [second]) => first.length - second.length || (first < second ? -1 : 1));
  return `{${entries.map(([name, member]) => `${JSON.stringify(name)}: ${jsonbText(member)}`).join(', ')}}`;
}
