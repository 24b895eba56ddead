import type { OutboxRelayEvents } from '@bulwark/messaging';
import {
  createEnvelope,
  type Envelope,
  type OutboxRelayOptions,
  resolveOutboxRelayOptions,
  startOutboxRelay,
} from '@bulwark/messaging';
import { constant, exponential, linear } from '@bulwark/resilience';
import { manualClock } from '@bulwark/resilience/testing';
import { describe, expect, it } from 'vitest';
import { memoryRelaySource } from './fixtures/memory-relay-source.js';
import { recordingTransport } from './fixtures/recording-transport.js';

const message = (key: string, sequence: number, topic = 'orders') =>
  createEnvelope({ topic, type: 'changed', key, payload: { sequence } }, { clock: manualClock(0) });
const label = (envelope: Envelope) =>
  `${envelope.topic}:${envelope.key}${(envelope.payload as { sequence: number }).sequence}`;

function setup(options: Partial<OutboxRelayOptions> = {}) {
  const clock = manualClock(1_000_000);
  const source = memoryRelaySource(clock);
  const transport = recordingTransport();
  const events: { name: keyof OutboxRelayEvents; event: unknown }[] = [];
  const relay = startOutboxRelay(source, resolveOutboxRelayOptions({ transport, ...options }, clock));
  for (const name of [
    'outbox-leadership-acquired',
    'outbox-leadership-released',
    'outbox-dispatched',
    'outbox-publish-failed',
    'outbox-relay-failed',
  ] as const)
    relay.on(name, (event) => events.push({ name, event }));
  return { clock, source, transport, relay, events };
}

describe('outbox relay options', () => {
  it('reports every problem at once', () => {
    expect(() =>
      resolveOutboxRelayOptions(
        {
          transport: {} as never,
          batchSize: 0,
          pollIntervalMs: Number.NaN,
          publishTimeoutMs: 0,
          claimCheck: {} as never,
          backoff: 5 as never,
        },
        manualClock(),
      ),
    ).toThrowError(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        problems: [
          'transport must have a publish(topic, messages) function',
          'batchSize must be an integer from 1 to 100000, got 0',
          'pollIntervalMs must be a finite number of at least 1, got NaN',
          'publishTimeoutMs must be a finite number of at least 1, got 0',
          'claimCheck must have a checkIn(message) function',
          'backoff must have a delayMs(input) function (constant, linear or exponential)',
        ],
      }),
    );
  });

  it('defaults to batches of 500, a 1 s poll and exponential retry delays (full jitter) capped at 30 s', () => {
    const resolved = resolveOutboxRelayOptions(
      { transport: recordingTransport(), random: () => 0.999_999 },
      manualClock(),
    );
    expect(resolved.batchSize).toBe(500);
    expect(resolved.pollIntervalMs).toBe(1_000);
    expect([1, 2, 3, 4, 20].map((attempt) => Math.round(resolved.retryDelay(attempt, 0)))).toEqual([
      100, 200, 400, 800, 30_000,
    ]);
  });
});

describe('outbox relay', () => {
  it('publishes in batches grouped by topic, keeping order within each topic, then removes the rows', async () => {
    const { clock, source, transport, relay, events } = setup({ batchSize: 3 });
    source.add(message('a', 1), message('b', 1, 'users'), message('a', 2), message('a', 3));
    await clock.advanceAsync(0);
    expect(transport.calls.map((call) => [call.topic, call.messages.map(label)])).toEqual([
      ['orders', ['orders:a1', 'orders:a2']],
      ['users', ['users:b1']],
      ['orders', ['orders:a3']],
    ]);
    expect(source.rows).toEqual([]);
    expect(events.filter((entry) => entry.name === 'outbox-dispatched').map((entry) => entry.event)).toEqual([
      { outbox: 'memory-outbox', topic: 'orders', count: 2, durationMs: 0, lagMs: 0 },
      { outbox: 'memory-outbox', topic: 'users', count: 1, durationMs: 0, lagMs: 0 },
      { outbox: 'memory-outbox', topic: 'orders', count: 1, durationMs: 0, lagMs: 0 },
    ]);
    expect(relay.snapshot()).toMatchObject({ role: 'leader', dispatched: 4, lagMs: 0, publishFailures: 0 });
    await relay.close();
    expect(relay.snapshot().role).toBe('closed');
  });

  it('is woken by the store and otherwise polls every pollIntervalMs', async () => {
    const { clock, source, transport, relay } = setup({ pollIntervalMs: 5_000 });
    await clock.advanceAsync(0);
    const claims = source.claims;
    source.rows.push({ position: '99', message: message('silent', 1), createdAt: clock.now() }); // no wake
    await clock.advanceAsync(4_999);
    expect(transport.published).toEqual([]);
    expect(source.claims).toBe(claims);
    await clock.advanceAsync(1);
    expect(transport.published.map(label)).toEqual(['orders:silent1']);
    source.add(message('woken', 1));
    await clock.advanceAsync(0);
    expect(transport.published.map(label)).toEqual(['orders:silent1', 'orders:woken1']);
    await relay.close();
  });

  it('retries a failed publish with the retry delays, keeps the rows, and never reorders a key', async () => {
    const { clock, source, transport, relay, events } = setup({ backoff: linear({ initialMs: 1_000 }) });
    transport.down = true;
    source.add(message('k', 1), message('k', 2));
    await clock.advanceAsync(0);
    expect(transport.failures).toBe(1);
    await clock.advanceAsync(999);
    expect(transport.failures).toBe(1);
    await clock.advanceAsync(1);
    expect(transport.failures).toBe(2);
    source.add(message('k', 3)); // arrives while the first two are being retried
    await clock.advanceAsync(2_000);
    expect(transport.failures).toBe(3);
    expect(source.rows.map((row) => label(row.message))).toEqual(['orders:k1', 'orders:k2', 'orders:k3']);
    expect(relay.snapshot()).toMatchObject({ publishFailures: 3, lagMs: 3_000 });
    expect(relay.snapshot().lastError).toEqual(new Error('broker unavailable'));
    transport.down = false;
    await clock.advanceAsync(3_000);
    expect(transport.published.map(label)).toEqual(['orders:k1', 'orders:k2', 'orders:k3']);
    expect(source.rows).toEqual([]);
    expect(relay.snapshot()).toMatchObject({ lastError: undefined, lagMs: 0, dispatched: 3 });
    expect(events.filter((entry) => entry.name === 'outbox-publish-failed').map((entry) => entry.event)).toMatchObject([
      { topic: 'orders', count: 2, attempt: 1, retryInMs: 1_000 },
      { topic: 'orders', count: 2, attempt: 2, retryInMs: 2_000 },
      { topic: 'orders', count: 2, attempt: 3, retryInMs: 3_000 },
    ]);
    await relay.close();
  });

  it('does not hold other topics back while one topic fails', async () => {
    const { clock, source, transport, relay } = setup({ backoff: constant({ ms: 1_000 }) });
    const publish = transport.publish;
    transport.publish = async (topic, messages) => {
      if (topic === 'broken') throw new Error('no such exchange');
      await publish(topic, messages);
    };
    source.add(message('a', 1, 'broken'), message('b', 1, 'fine'));
    await clock.advanceAsync(0);
    expect(transport.published.map(label)).toEqual(['fine:b1']);
    expect(source.rows.map((row) => label(row.message))).toEqual(['broken:a1']);
    await relay.close();
    expect(source.rows.map((row) => label(row.message))).toEqual(['broken:a1']);
  });

  it('keeps publishing other topics, including later messages, while one topic keeps failing; the failed topic then goes out in order', async () => {
    const { clock, source, transport, relay, events } = setup({ backoff: constant({ ms: 1_000 }) });
    const publish = transport.publish;
    let brokenDown = true;
    transport.publish = async (topic, messages) => {
      if (topic === 'broken' && brokenDown) throw new Error('message rejected');
      await publish(topic, messages);
    };
    source.add(message('a', 1, 'broken'), message('b', 1, 'fine'));
    await clock.advanceAsync(0);
    // Arrive while 'broken' is being retried: 'fine' goes on, 'broken' waits behind its first row.
    source.add(message('b', 2, 'fine'), message('a', 2, 'broken'), message('c', 1, 'other'));
    await clock.advanceAsync(2_500);
    expect(transport.published.map(label)).toEqual(['fine:b1', 'fine:b2', 'other:c1']);
    expect(source.rows.map((row) => label(row.message))).toEqual(['broken:a1', 'broken:a2']);
    const failures = events.filter((entry) => entry.name === 'outbox-publish-failed').map((entry) => entry.event);
    expect(failures).toMatchObject([
      { topic: 'broken', count: 1, attempt: 1 },
      { topic: 'broken', count: 1, attempt: 2 },
      { topic: 'broken', count: 1, attempt: 3 },
    ]);
    expect(relay.snapshot().lastError).toEqual(new Error('message rejected'));
    brokenDown = false;
    await clock.advanceAsync(1_000);
    expect(transport.published.map(label)).toEqual(['fine:b1', 'fine:b2', 'other:c1', 'broken:a1', 'broken:a2']);
    expect(source.rows).toEqual([]);
    expect(relay.snapshot().lastError).toBeUndefined();
    await relay.close();
  });

  it('keeps each failing topic on its own backoff (decorrelated jitter never mixes their delays)', async () => {
    const { clock, source, transport, relay, events } = setup({
      backoff: exponential({ initialMs: 100, maxMs: 60_000, jitter: 'decorrelated' }),
      random: () => 0.5,
    });
    transport.down = true;
    source.add(message('a', 1, 'alpha'), message('b', 1, 'beta'));
    await clock.advanceAsync(10_000);
    const delaysOf = (topic: string) =>
      events
        .filter((entry) => entry.name === 'outbox-publish-failed')
        .map((entry) => entry.event as { topic: string; retryInMs: number })
        .filter((event) => event.topic === topic)
        .map((event) => event.retryInMs);
    expect(delaysOf('alpha').length).toBeGreaterThan(3);
    expect(delaysOf('beta')).toEqual(delaysOf('alpha').slice(0, delaysOf('beta').length));
    await relay.close();
  });

  it('publishes different keys side by side (publishConcurrency), a key only once its earlier message was accepted', async () => {
    const clock = manualClock(0);
    const source = memoryRelaySource(clock, { prefetch: true, claimRemoves: true });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    // Publishes wait for the test to accept them: the broker's confirms, in any order.
    const inFlight: { keys: string[]; messages: readonly Envelope[]; accept: () => void }[] = [];
    const accepted: Envelope[] = [];
    const overlapping: string[] = [];
    let mostInFlight = 0;
    const transport = {
      publish: (_topic: string, messages: readonly Envelope[]) =>
        new Promise<void>((resolve) => {
          const keysOf = messages.map((envelope) => envelope.key as string);
          for (const call of inFlight) overlapping.push(...keysOf.filter((key) => call.keys.includes(key)));
          const call = {
            keys: keysOf,
            messages,
            accept: () => {
              inFlight.splice(inFlight.indexOf(call), 1);
              accepted.push(...messages);
              resolve();
            },
          };
          inFlight.push(call);
          mostInFlight = Math.max(mostInFlight, inFlight.length);
        }),
    };
    const relay = startOutboxRelay(
      source,
      resolveOutboxRelayOptions({ transport, publishConcurrency: 4, batchSize: 8 }, clock),
    );
    for (let sequence = 1; sequence <= 3; sequence++) source.add(...keys.map((key) => message(key, sequence)));
    await clock.advanceAsync(0);
    while (accepted.length < keys.length * 3) {
      expect(inFlight.length).toBeGreaterThan(0);
      (inFlight.at(-1) as { accept: () => void }).accept(); // the newest call is confirmed first
      await clock.advanceAsync(0);
    }
    expect(overlapping).toEqual([]);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(4);
    for (const key of keys)
      expect(accepted.filter((envelope) => envelope.key === key).map(label)).toEqual([
        `orders:${key}1`,
        `orders:${key}2`,
        `orders:${key}3`,
      ]);
    await clock.advanceAsync(0);
    expect(source.rows).toEqual([]);
    expect(relay.snapshot().dispatched).toBe(keys.length * 3);
    await relay.close();
  });

  it('reads a batch per publish in flight, and publishes at most a batch per call', async () => {
    const clock = manualClock(0);
    const source = memoryRelaySource(clock, { prefetch: true, claimRemoves: true });
    const transport = recordingTransport();
    const relay = startOutboxRelay(
      source,
      resolveOutboxRelayOptions({ transport, publishConcurrency: 4, batchSize: 8 }, clock),
    );
    await clock.advanceAsync(0);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    for (let sequence = 1; sequence <= 4; sequence++) source.add(...keys.map((key) => message(key, sequence)));
    const claimsBefore = source.claims;
    await clock.advanceAsync(0);
    await transport.waitFor(keys.length * 4);
    // A read of 4 x 8 rows took all 32, then one found nothing more (reading 8 at a time took 6 reads).
    expect(source.claims - claimsBefore).toBeLessThanOrEqual(3);
    expect(Math.max(...transport.calls.map((call) => call.messages.length))).toBeLessThanOrEqual(8);
    for (const key of keys)
      expect(transport.published.filter((envelope) => envelope.key === key).map(label)).toEqual(
        [1, 2, 3, 4].map((sequence) => `orders:${key}${sequence}`),
      );
    await relay.close();
  });

  it('sends the next read as a full read returns, before that read goes to the transport, and keeps key order', async () => {
    const clock = manualClock(0);
    const source = memoryRelaySource(clock, { prefetch: true, claimRemoves: true });
    const transport = recordingTransport();
    // Reads sent before each publish call started.
    const readsBeforePublish: number[] = [];
    const relay = startOutboxRelay(
      source,
      resolveOutboxRelayOptions(
        {
          transport: {
            publish(topic, messages, options) {
              readsBeforePublish.push(source.claims);
              return transport.publish(topic, messages, options);
            },
          },
          publishConcurrency: 2,
          batchSize: 2,
        },
        clock,
      ),
    );
    await clock.advanceAsync(0);
    const readsWhenIdle = source.claims;
    const keys = ['a', 'b', 'c', 'd'];
    for (let sequence = 1; sequence <= 3; sequence++) source.add(...keys.map((key) => message(key, sequence)));
    await clock.advanceAsync(0);
    await transport.waitFor(keys.length * 3);
    // The first read (4 of 12 rows) was followed by the second before its publishes started.
    expect((readsBeforePublish[0] as number) - readsWhenIdle).toBe(2);
    for (const key of keys)
      expect(transport.published.filter((envelope) => envelope.key === key).map(label)).toEqual(
        [1, 2, 3].map((sequence) => `orders:${key}${sequence}`),
      );
    await clock.advanceAsync(0);
    expect(source.rows).toEqual([]);
    await relay.close();
  });

  it('checks payloads in before publishing', async () => {
    const { clock, source, transport, relay } = setup({
      claimCheck: {
        async checkIn(envelope) {
          return { ...envelope, payload: { ref: `blob:${envelope.id}` } };
        },
      },
    });
    const big = message('k', 1);
    source.add(big);
    await clock.advanceAsync(0);
    expect(transport.published[0]?.payload).toEqual({ ref: `blob:${big.id}` });
    await relay.close();
  });

  it('gives the session up when the store fails and takes it again after the retry delay', async () => {
    const { clock, source, transport, relay, events } = setup({ backoff: constant({ ms: 500 }) });
    await clock.advanceAsync(0);
    source.failNextClaim(new Error('connection terminated'));
    source.add(message('k', 1));
    await clock.advanceAsync(0);
    expect(source.ended).toEqual([{ error: new Error('connection terminated') }]);
    expect(relay.snapshot().role).toBe('standby');
    expect(events.map((entry) => entry.name)).toEqual([
      'outbox-leadership-acquired',
      'outbox-leadership-released',
      'outbox-relay-failed',
    ]);
    expect(relay.snapshot().lastError).toEqual(new Error('connection terminated'));
    await clock.advanceAsync(500);
    expect(source.acquired).toBe(2);
    expect(transport.published.map(label)).toEqual(['orders:k1']);
    expect(relay.snapshot().lastError).toBeUndefined();
    await relay.close();
    expect(source.ended.at(-1)).toEqual({ error: undefined });
  });

  it('reports throughput over the last 10 seconds', async () => {
    const { clock, source, relay } = setup();
    await clock.advanceAsync(0);
    for (let second = 0; second < 5; second++) {
      source.add(...Array.from({ length: 100 }, (_, index) => message(`k${index}`, second)));
      await clock.advanceAsync(1_000);
    }
    expect(relay.snapshot().throughputPerSecond).toBe(100);
    await clock.advanceAsync(20_000);
    expect(relay.snapshot().throughputPerSecond).toBe(0);
    expect(relay.snapshot().dispatched).toBe(500);
    await relay.close();
  });

  it('gives up on a publish that hangs after publishTimeoutMs, aborts its signal and retries', async () => {
    let hung = true;
    const signals: AbortSignal[] = [];
    const published: string[] = [];
    const { clock, source, relay, events } = setup({
      publishTimeoutMs: 5_000,
      backoff: constant({ ms: 100 }),
      transport: {
        async publish(_topic, messages, options) {
          if (options?.signal) signals.push(options.signal);
          if (hung) return new Promise<void>(() => {}); // a broker connection that never answers
          published.push(...messages.map(label));
        },
      },
    });
    source.add(message('k', 1));
    await clock.advanceAsync(4_999);
    expect(events.filter((entry) => entry.name === 'outbox-publish-failed')).toEqual([]);
    await clock.advanceAsync(1);
    expect(events.find((entry) => entry.name === 'outbox-publish-failed')?.event).toMatchObject({
      attempt: 1,
      error: expect.objectContaining({ code: 'OUTBOX_PUBLISH_TIMEOUT', topic: 'orders', timeoutMs: 5_000 }),
    });
    expect(signals[0]?.aborted).toBe(true);
    hung = false;
    await clock.advanceAsync(100);
    expect(published).toEqual(['orders:k1']);
    expect(source.rows).toEqual([]);
    await relay.close();
  });

  it('leaves no abort listener behind per publish (regression: MaxListenersExceededWarning)', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const { clock, source, relay, transport } = setup({ batchSize: 1 });
      for (let index = 0; index < 30; index++) source.add(message(`k${index}`, index));
      await clock.advanceAsync(0);
      expect(transport.published).toHaveLength(30);
      await relay.close();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('aborts a publish in flight when the caller signal aborts', async () => {
    const controller = new AbortController();
    const { clock, source, relay } = setup({
      signal: controller.signal,
      transport: {
        publish: (_topic, _messages, options) =>
          new Promise((_resolve, reject) =>
            options?.signal?.addEventListener('abort', () => reject(options.signal?.reason)),
          ),
      },
    });
    source.add(message('k', 1));
    await clock.advanceAsync(0);
    controller.abort(new Error('shutting down'));
    await relay.close();
    expect(relay.snapshot().role).toBe('closed');
    expect(source.rows).toHaveLength(1);
  });
});
