// Regression (issue 16): background errors (a broker that cannot be reached, a failing inbox
// store) were invisible unless the user passed `onError` or listened for them. By default they
// are now process warnings a person sees.
import { consume, createEnvelope, memoryIdempotencyStore, memoryTransport } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { collectProcessWarnings } from '@bulwark/test-support';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';

const collectWarnings = () => collectProcessWarnings('BulwarkWarning');

const eventually = async (condition: () => boolean, what: string, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('background errors without onError', () => {
  let stop = () => {};
  afterEach(() => stop());

  it('amqpTransport: a broker it cannot reach is a BULWARK_CONNECTION_FAILED warning', async () => {
    const collected = collectWarnings();
    stop = collected.stop;
    // Nothing listens on port 1: each connection attempt is refused at once.
    const transport = amqpTransport(() => amqp.connect('amqp://guest:guest@127.0.0.1:1'), { reconnectInitialMs: 20 });
    const controller = new AbortController();
    const subscribing = transport.subscribe('t', 'g', async () => {}, { signal: controller.signal });
    await eventually(() => collected.warnings.length >= 2, 'two warnings');
    controller.abort(new Error('stop waiting'));
    await expect(subscribing).rejects.toThrow('stop waiting');
    await transport.close();
    const [first] = collected.warnings;
    expect(first?.code).toBe('BULWARK_CONNECTION_FAILED');
    expect(first?.message).toMatch(/^amqpTransport: Connecting to the broker failed/);
  });

  it('amqpTransport: an onError given replaces the warning', async () => {
    const collected = collectWarnings();
    stop = collected.stop;
    const reported: string[] = [];
    const transport = amqpTransport(() => amqp.connect('amqp://guest:guest@127.0.0.1:1'), {
      reconnectInitialMs: 20,
      onError: (error) => reported.push(error.code),
    });
    const controller = new AbortController();
    const subscribing = transport.subscribe('t', 'g', async () => {}, { signal: controller.signal });
    await eventually(() => reported.length >= 2, 'two reports');
    controller.abort(new Error('stop waiting'));
    await expect(subscribing).rejects.toThrow('stop waiting');
    await transport.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(reported[0]).toBe('CONNECTION_FAILED');
    expect(collected.warnings).toEqual([]);
  });

  it('consume: a failing inbox store is a warning when nobody listens for consumer-error, an event otherwise', async () => {
    const collected = collectWarnings();
    stop = collected.stop;
    const transport = memoryTransport();
    const store = memoryIdempotencyStore();
    const failingStore = Object.create(store, {
      begin: { value: () => Promise.reject(new Error('inbox store down')) },
    }) as typeof store;
    const quiet = await consume(transport, {
      topic: 'orders',
      group: 'quiet',
      dedupe: { store: failingStore, windowMs: 60_000 },
      handler: () => {},
    });
    const listened = await consume(transport, {
      topic: 'orders',
      group: 'listened',
      dedupe: { store: failingStore, windowMs: 60_000 },
      handler: () => {},
    });
    const events: unknown[] = [];
    listened.on('consumer-error', ({ error }) => events.push(error));
    await transport.publish('orders', [createEnvelope({ topic: 'orders', type: 'order.placed', payload: {} })]);
    await eventually(() => collected.warnings.length >= 1 && events.length >= 1, 'a warning and an event');
    await quiet.close({ deadlineMs: 0 });
    await listened.close({ deadlineMs: 0 });
    await transport.close({ deadlineMs: 0 });
    expect(collected.warnings.every((warning) => warning.message.startsWith('consume(orders, quiet): '))).toBe(true);
    expect(collected.warnings[0]?.message).toContain('inbox store down');
    expect(collected.warnings[0]?.code).toBe('BULWARK_BACKGROUND_ERROR');
    expect((events[0] as Error).message).toBe('inbox store down');
  });
});
