import { createEnvelope, type Delivery, memoryTransport } from '@bulwark/messaging';
import { transportConformance } from '@bulwark/messaging/testing';
import { InvalidOptionsError } from '@bulwark/resilience';

import { manualClock } from '@bulwark/resilience/testing';

import { describe, expect, it } from 'vitest';

transportConformance('memoryTransport', {
  createTransport: ({ visibilityTimeoutMs }) => memoryTransport({ visibilityTimeoutMs }),
  timeoutMs: 5_000,
});

transportConformance('memoryTransport (ordering: none)', {
  createTransport: ({ visibilityTimeoutMs }) => memoryTransport({ visibilityTimeoutMs, ordering: 'none' }),
  timeoutMs: 5_000,
});

describe('memoryTransport (specific)', () => {
  const flush = async (rounds = 5) => {
    for (let round = 0; round < rounds; round++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const envelope = (index: number, key?: string) =>
    createEnvelope({ topic: 't', type: 'x', payload: { index }, ...(key ? { key } : {}) });

  it('redelivers after exactly the visibility timeout, and ignores the late ack of the first holder', async () => {
    const clock = manualClock(0);
    const transport = memoryTransport({ clock, visibilityTimeoutMs: 1_000 });
    const deliveries: { count: number; at: number; delivery: Delivery }[] = [];
    await transport.subscribe(
      't',
      'g',
      (delivery) => {
        deliveries.push({ count: delivery.deliveryCount, at: clock.now(), delivery });
        return new Promise<void>(() => {});
      },
      { prefetch: 5 },
    );
    await transport.publish('t', [envelope(1)]);
    await flush();
    await clock.advanceAsync(999);
    expect(deliveries.map((entry) => entry.count)).toEqual([1]);
    await clock.advanceAsync(1);
    await flush();
    expect(deliveries.map((entry) => [entry.count, entry.at])).toEqual([
      [1, 0],
      [2, 1_000],
    ]);
    await deliveries[0]?.delivery.ack(); // stale: does nothing
    expect(transport.snapshot()[0]).toMatchObject({ inFlight: 1, ready: 0 });
    await deliveries[1]?.delivery.ack();
    expect(transport.snapshot()[0]).toMatchObject({ inFlight: 0, ready: 0, waiting: 0 });
    await transport.close({ deadlineMs: 0 });
  });

  it('delays a publish and a nack on the clock', async () => {
    const clock = manualClock(0);
    const transport = memoryTransport({ clock });
    const seen: [number, number][] = [];
    await transport.subscribe('t', 'g', async (delivery) => {
      seen.push([(delivery.message.payload as { index: number }).index, clock.now()]);
      if (delivery.deliveryCount === 1) await delivery.nack({ delayMs: 300 });
    });
    await transport.publish('t', [envelope(1)], { delayMs: 500 });
    await flush();
    expect(transport.snapshot()[0]).toMatchObject({ waiting: 1, ready: 0 });
    await clock.advanceAsync(500);
    await flush();
    await clock.advanceAsync(300);
    await flush();
    expect(seen).toEqual([
      [1, 500],
      [1, 800],
    ]);
  });

  it('keeps a key behind its unsettled head, and counts it as waiting', async () => {
    const transport = memoryTransport();
    const held: Delivery[] = [];
    await transport.subscribe(
      't',
      'g',
      (delivery) => {
        held.push(delivery);
        return new Promise<void>(() => {});
      },
      { prefetch: 10 },
    );
    await transport.publish('t', [envelope(1, 'k'), envelope(2, 'k'), envelope(3)]);
    await flush();
    expect(held.map((delivery) => (delivery.message.payload as { index: number }).index)).toEqual([1, 3]);
    expect(transport.snapshot()[0]).toMatchObject({ inFlight: 2, waiting: 1 });
    await held[0]?.ack();
    await flush();
    expect(held.map((delivery) => (delivery.message.payload as { index: number }).index)).toEqual([1, 3, 2]);
    await transport.close({ deadlineMs: 0 });
  });

  it('holds messages for a declared group until someone subscribes; drops those of a topic without groups', async () => {
    const transport = memoryTransport();
    transport.declareGroup('t', 'late');
    await transport.publish('t', [envelope(1)]);
    await transport.publish('nobody-listens', [envelope(2)]);
    const seen: number[] = [];
    await transport.subscribe('t', 'late', async ({ message }) => {
      seen.push((message.payload as { index: number }).index);
    });
    await flush();
    expect(seen).toEqual([1]);
    expect(transport.snapshot().map((group) => group.topic)).toEqual(['t']);
    await transport.close();
  });

  it('copies messages: a handler never shares an object with the publisher', async () => {
    const transport = memoryTransport();
    const original = envelope(1);
    let received: unknown;
    await transport.subscribe('t', 'g', async ({ message }) => {
      received = message;
    });
    await transport.publish('t', [original]);
    await flush();
    expect(received).toEqual(original);
    expect(received).not.toBe(original);
    // A payload JSON cannot hold is refused as bad input, with the serializer's TypeError as its cause.
    await expect(transport.publish('t', [{ ...original, payload: { big: BigInt(1) } }])).rejects.toMatchObject({
      name: 'InvalidMessagingValueError',
      field: 'message',
      cause: expect.any(TypeError),
    });
    await transport.close();
  });

  it('closes a subscription when its signal aborts', async () => {
    const transport = memoryTransport();
    const controller = new AbortController();
    const seen: number[] = [];
    await transport.subscribe(
      't',
      'g',
      async ({ message }) => {
        seen.push((message.payload as { index: number }).index);
      },
      { signal: controller.signal },
    );
    controller.abort();
    await flush();
    await transport.publish('t', [envelope(1)]);
    await flush();
    expect(seen).toEqual([]);
    expect(transport.snapshot()[0]).toMatchObject({ ready: 1, subscribers: 0 });
    await transport.close();
  });

  it('rejects invalid options, listing every problem', () => {
    expect(() => memoryTransport({ visibilityTimeoutMs: 0, ordering: 'sideways' as 'none' })).toThrow(
      InvalidOptionsError,
    );
  });
});
