import {
  consume,
  createEnvelope,
  deadLetterHeaders,
  type Envelope,
  type MemoryTransport,
  memoryIdempotencyStore,
  memoryTransport,
  NonRetryableError,
} from '@bulwark/messaging';
import { exponential, InvalidOptionsError } from '@bulwark/resilience';

import { type ManualClock, manualClock } from '@bulwark/resilience/testing';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const start = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** Lets setImmediate-scheduled dispatch and promise chains run, without moving the clock. */
const flush = async (rounds = 10) => {
  for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const message = (index: number, init: { groupId?: string; id?: string } = {}) =>
  createEnvelope({ topic: 'orders', type: 'order.placed', payload: { index }, ...init });

function gate() {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('consume', () => {
  let clock: ManualClock;
  let transport: MemoryTransport;
  let deadLetters: Envelope[];

  beforeEach(async () => {
    clock = manualClock(start);
    transport = memoryTransport({ clock, visibilityTimeoutMs: 60_000 });
    deadLetters = [];
    await transport.subscribe('orders.dlq', 'inspect', async ({ message }) => {
      deadLetters.push(message);
    });
  });

  afterEach(async () => {
    const closing = transport.close({ deadlineMs: 0 });
    await clock.runAllAsync();
    await closing;
  });

  const depth = (topic = 'orders') =>
    transport
      .snapshot()
      .filter((group) => group.topic === topic && group.group !== 'inspect')
      .reduce((sum, group) => sum + group.ready + group.inFlight + group.waiting, 0);

  it('retries with the given delays, then acks', async () => {
    const attempts: number[] = [];
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      retry: [1_000, 5_000, 15_000],
      handler: async () => {
        attempts.push(clock.now());
        if (attempts.length < 3) throw new Error('not yet');
      },
    });
    await transport.publish('orders', [message(1)]);
    await flush();
    expect(attempts).toEqual([start]);
    await clock.advanceAsync(999);
    expect(attempts).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(attempts).toEqual([start, start + 1_000]);
    await clock.advanceAsync(5_000);
    await flush();
    expect(attempts).toEqual([start, start + 1_000, start + 6_000]);
    expect(consumer.snapshot()).toMatchObject({ handled: 1, retried: 2, deadLettered: 0 });
    expect(depth()).toBe(0);
    await consumer.close();
  });

  it('retries with a backoff object (as @bulwark/resilience makes them)', async () => {
    const attempts: number[] = [];
    const inputs: { attempt: number; previousDelayMs: number }[] = [];
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      retry: {
        maxAttempts: 3,
        backoff: {
          delayMs: ({ attempt, previousDelayMs }) => {
            inputs.push({ attempt, previousDelayMs });
            return attempt * 100;
          },
        },
      },
      deadLetter: 'orders.dlq',
      handler: async () => {
        attempts.push(clock.now() - start);
        throw new Error('always');
      },
    });
    await transport.publish('orders', [message(1)]);
    await flush();
    await clock.advanceAsync(1_000);
    await flush();
    expect(attempts).toEqual([0, 100, 300]);
    expect(inputs).toEqual([
      { attempt: 1, previousDelayMs: 0 },
      { attempt: 2, previousDelayMs: 100 },
    ]);
    expect(deadLetters).toHaveLength(1);
    await consumer.close();
  });

  it('retries with exponential() from @bulwark/resilience', async () => {
    const attempts: number[] = [];
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      random: () => 0.5,
      retry: { maxAttempts: 4, backoff: exponential({ initialMs: 100, factor: 2, maxMs: 1_000 }) },
      handler: async () => {
        attempts.push(clock.now() - start);
        if (attempts.length < 4) throw new Error('again');
      },
    });
    await transport.publish('orders', [message(1)]);
    await flush();
    await clock.advanceAsync(2_000);
    await flush();
    expect(attempts).toEqual([0, 100, 300, 700]);
    await consumer.close();
  });

  it('dead-letters after the retries run out, with the failure in headers', async () => {
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      retry: [100, 200],
      deadLetter: 'orders.dlq',
      handler: async () => {
        throw new Error('payment service down');
      },
    });
    const original = createEnvelope({
      topic: 'orders',
      type: 'order.placed',
      payload: { total: 42 },
      headers: { correlationId: 'corr-1', traceparent: 'tp' },
    });
    await transport.publish('orders', [original]);
    await flush();
    await clock.advanceAsync(100);
    await clock.advanceAsync(200);
    await flush();
    expect(deadLetters).toHaveLength(1);
    const [dead] = deadLetters as [Envelope];
    expect(dead).toMatchObject({ id: original.id, type: original.type, payload: { total: 42 }, topic: 'orders.dlq' });
    expect(dead.headers).toMatchObject({
      correlationId: 'corr-1',
      traceparent: 'tp',
      [deadLetterHeaders.error]: 'payment service down',
      [deadLetterHeaders.errorName]: 'Error',
      [deadLetterHeaders.attempts]: '3',
      [deadLetterHeaders.deliveryCount]: '1',
      [deadLetterHeaders.firstFailureAt]: iso(start),
      [deadLetterHeaders.lastFailureAt]: iso(start + 300),
      [deadLetterHeaders.originalTopic]: 'orders',
      [deadLetterHeaders.originalGroup]: 'billing',
    });
    expect(consumer.snapshot()).toMatchObject({ deadLettered: 1, handled: 0, retried: 2 });
    expect(depth()).toBe(0);
    await consumer.close();
  });

  it('dead-letters a NonRetryableError at once, with its code', async () => {
    let calls = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      retry: [1_000, 5_000],
      deadLetter: 'orders.dlq',
      handler: async () => {
        calls += 1;
        throw new NonRetryableError('order has no lines');
      },
    });
    await transport.publish('orders', [message(1)]);
    await flush();
    expect(calls).toBe(1);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.headers).toMatchObject({
      [deadLetterHeaders.attempts]: '1',
      [deadLetterHeaders.errorName]: 'NonRetryableError',
      [deadLetterHeaders.errorCode]: 'NON_RETRYABLE',
      [deadLetterHeaders.firstFailureAt]: iso(start),
      [deadLetterHeaders.lastFailureAt]: iso(start),
    });
    expect(clock.pendingTimers()).toBe(0);
    await consumer.close();
  });

  it('without a dead-letter topic, nacks the failed message so it comes back after the last delay', async () => {
    const deliveries: number[] = [];
    const failed: unknown[] = [];
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      retry: [50],
      handler: async (_message, { deliveryCount }) => {
        deliveries.push(deliveryCount);
        if (deliveryCount === 1) throw new Error('first delivery fails');
      },
    });
    consumer.on('message-failed', ({ error }) => failed.push(error));
    await transport.publish('orders', [message(1)]);
    await flush();
    await clock.advanceAsync(50);
    expect(failed).toHaveLength(1);
    await clock.advanceAsync(49);
    expect(deliveries).toEqual([1, 1]);
    await clock.advanceAsync(1);
    await flush();
    expect(deliveries).toEqual([1, 1, 2]);
    expect(consumer.snapshot()).toMatchObject({ failed: 1, handled: 1 });
    await consumer.close();
  });

  it('dead-letters a message delivered more than maxDeliveries times without running it', async () => {
    // A subscriber that dies holding the message (its process crashed on it).
    const dying = await transport.subscribe('orders', 'billing', () => new Promise<void>(() => {}));
    await transport.publish('orders', [message(1)]);
    await flush();
    const dead = dying.close({ deadlineMs: 0 });
    await clock.advanceAsync(0);
    await dead;
    let calls = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      maxDeliveries: 1,
      deadLetter: 'orders.dlq',
      handler: async () => {
        calls += 1;
      },
    });
    await flush();
    expect(calls).toBe(0);
    expect(deadLetters[0]?.headers).toMatchObject({
      [deadLetterHeaders.errorCode]: 'MAX_DELIVERIES_EXCEEDED',
      [deadLetterHeaders.deliveryCount]: '2',
    });
    await consumer.close();
  });

  for (const ordering of ['per-key', 'none'] as const) {
    it(`handles each FIFO group in order, retries included, groups in parallel (transport ordering: ${ordering})`, async () => {
      const unordered = memoryTransport({ clock, ordering });
      const completed: string[] = [];
      const failuresLeft = new Map([['a1', 2]]);
      const consumer = await consume(unordered, {
        topic: 'orders',
        group: 'billing',
        clock,
        concurrency: 4,
        ordering: 'fifo-group',
        retry: [100, 100],
        handler: async (envelope) => {
          const name = (envelope.payload as { name: string }).name;
          const left = failuresLeft.get(name) ?? 0;
          if (left > 0) {
            failuresLeft.set(name, left - 1);
            throw new Error(`${name} fails`);
          }
          completed.push(name);
        },
      });
      const named = (name: string, groupId: string) =>
        createEnvelope({ topic: 'orders', type: 't', payload: { name }, groupId });
      await unordered.publish('orders', [
        named('a1', 'A'),
        named('b1', 'B'),
        named('a2', 'A'),
        named('b2', 'B'),
        named('a3', 'A'),
      ]);
      await flush();
      // a1 is waiting for its retry; group B went on without it, a2 and a3 wait behind a1.
      expect(completed).toEqual(['b1', 'b2']);
      await clock.advanceAsync(100);
      await clock.advanceAsync(100);
      await flush();
      expect(completed).toEqual(['b1', 'b2', 'a1', 'a2', 'a3']);
      await consumer.close();
      await unordered.close();
    });
  }

  it('skips a message id it handled within the dedupe window, and handles it again after', async () => {
    const store = memoryIdempotencyStore({ clock });
    const handled: string[] = [];
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      dedupe: { store, windowMs: 60_000 },
      handler: async (envelope) => {
        handled.push(envelope.id);
      },
    });
    const original = message(1, { id: 'order-1' });
    await transport.publish('orders', [original]);
    await flush();
    await transport.publish('orders', [original]);
    await flush();
    expect(handled).toEqual(['order-1']);
    expect(consumer.snapshot()).toMatchObject({ handled: 1, duplicates: 1 });
    await clock.advanceAsync(60_001);
    await transport.publish('orders', [original]);
    await flush();
    expect(handled).toEqual(['order-1', 'order-1']);
    await consumer.close();
  });

  it("remembers a handled id 'forever'", async () => {
    const store = memoryIdempotencyStore({ clock });
    let calls = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      dedupe: { store, windowMs: 'forever' },
      handler: async () => {
        calls += 1;
      },
    });
    const original = message(1);
    await transport.publish('orders', [original]);
    await flush();
    await clock.advanceAsync(10 * 365 * 24 * 3_600_000);
    await transport.publish('orders', [original]);
    await flush();
    expect(calls).toBe(1);
    await consumer.close();
  });

  it('dedupes per group: another group handles the same id', async () => {
    const store = memoryIdempotencyStore({ clock });
    const calls: string[] = [];
    const consumers = await Promise.all(
      ['billing', 'shipping'].map((group) =>
        consume(transport, {
          topic: 'orders',
          group,
          clock,
          dedupe: { store, windowMs: 60_000 },
          handler: async () => {
            calls.push(group);
          },
        }),
      ),
    );
    await transport.publish('orders', [message(1)]);
    await flush();
    expect(calls.sort()).toEqual(['billing', 'shipping']);
    for (const consumer of consumers) await consumer.close();
  });

  it('puts back a copy that arrives while the first is still being handled, then skips it', async () => {
    const store = memoryIdempotencyStore({ clock });
    const release = gate();
    let calls = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      concurrency: 2,
      dedupe: { store, windowMs: 60_000, leaseMs: 5_000 },
      handler: async () => {
        calls += 1;
        await release.promise;
      },
    });
    const original = message(1);
    await transport.publish('orders', [original, original]);
    await flush();
    expect(calls).toBe(1);
    release.open();
    await flush();
    await clock.advanceAsync(5_000);
    await flush();
    expect(calls).toBe(1);
    expect(consumer.snapshot()).toMatchObject({ handled: 1, duplicates: 1 });
    await consumer.close();
  });

  it('renews the inbox lease while a long handler runs, so a copy arriving meanwhile does not run too', async () => {
    const store = memoryIdempotencyStore({ clock });
    let running = 0;
    let peak = 0;
    let calls = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      concurrency: 2,
      dedupe: { store, windowMs: 60_000, leaseMs: 1_000 },
      handler: async () => {
        calls += 1;
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 2_500));
        running -= 1;
      },
    });
    const original = message(1);
    await transport.publish('orders', [original]);
    await flush();
    await clock.advanceAsync(1_500); // past the first lease: only renewal keeps it
    await transport.publish('orders', [original]);
    await flush();
    for (let step = 0; step < 10; step++) await clock.advanceAsync(500);
    expect(calls).toBe(1);
    expect(peak).toBe(1);
    expect(consumer.snapshot()).toMatchObject({ handled: 1, duplicates: 1 });
    await consumer.close();
  });

  it('drains handlers in flight on close, within the deadline', async () => {
    const release = gate();
    let finished = false;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      handler: async () => {
        await release.promise;
        finished = true;
      },
    });
    await transport.publish('orders', [message(1), message(2)]);
    await flush();
    let closed = false;
    const closing = consumer.close({ deadlineMs: 10_000 }).then(() => {
      closed = true;
    });
    await clock.advanceAsync(5_000);
    expect(closed).toBe(false);
    release.open();
    await flush();
    await closing;
    expect(finished).toBe(true);
    // The in-flight message was acked; the second one, never started, waits for the next consumer.
    expect(transport.snapshot().find((group) => group.group === 'billing')).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it('gives up on a handler past the deadline: aborts its signal and gives the message back', async () => {
    let signal: AbortSignal | undefined;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      handler: async (_message, context) => {
        signal = context.signal;
        await new Promise<void>(() => {});
      },
    });
    await transport.publish('orders', [message(1)]);
    await flush();
    let closed = false;
    const closing = consumer.close({ deadlineMs: 1_000 }).then(() => {
      closed = true;
    });
    await clock.advanceAsync(999);
    expect(closed).toBe(false);
    await clock.advanceAsync(1);
    await closing;
    expect(signal?.aborted).toBe(true);
    expect(transport.snapshot().find((group) => group.group === 'billing')).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it('cancels pending retry waits on close: the message comes back later', async () => {
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      retry: [60_000],
      handler: async () => {
        throw new Error('fails');
      },
    });
    await transport.publish('orders', [message(1)]);
    await flush();
    await consumer.close({ deadlineMs: 30_000 });
    expect(transport.snapshot().find((group) => group.group === 'billing')).toMatchObject({ ready: 1, inFlight: 0 });
  });

  it('runs at most `concurrency` handlers at once, even with a larger prefetch', async () => {
    let running = 0;
    let peak = 0;
    let done = 0;
    const consumer = await consume(transport, {
      topic: 'orders',
      group: 'billing',
      clock,
      concurrency: 3,
      prefetch: 10,
      handler: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
        running -= 1;
        done += 1;
      },
    });
    await transport.publish(
      'orders',
      Array.from({ length: 12 }, (_, index) => message(index)),
    );
    for (let step = 0; step < 20 && done < 12; step++) await clock.advanceAsync(10);
    expect(done).toBe(12);
    expect(peak).toBe(3);
    await consumer.close();
  });

  it('reports every invalid option at once', async () => {
    await expect(
      consume(transport, {
        topic: '',
        group: 'billing',
        concurrency: 0,
        retry: [-1],
        deadLetter: '',
        handler: async () => {},
      }),
    ).rejects.toSatisfy((error) => {
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as InvalidOptionsError).problems).toEqual([
        'topic must be a non-empty string',
        'concurrency must be a positive integer, got 0',
        'retry delays must be finite numbers >= 0',
        'deadLetter must be a non-empty topic name',
        'deadLetter must differ from topic',
      ]);
      return true;
    });
  });
});
