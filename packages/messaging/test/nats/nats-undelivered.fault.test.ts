// A stream that acknowledges publishes and never delivers them, for real: the message files of a
// private nats-server's stream are removed while it runs (what nats-server 2.9 does itself to a
// stream made again while it still removes the old one's directory). Its consumers then answer
// every pull with nothing and no error. The transport must say so, and must not say so of a group
// that is merely idle or busy.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEnvelope, type Envelope, type MessagingError } from '@bulwark/messaging';
import { natsTransport } from '@bulwark/messaging/nats';
import { manualClock } from '@bulwark/resilience/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateNatsServer, skipWithoutNatsServer } from './private-nats-server.js';

const suite = 'natsTransport on a stream that lost its files';

const eventually = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
};

describe.skipIf(skipWithoutNatsServer(suite))(suite, () => {
  let server: Awaited<ReturnType<typeof privateNatsServer>> | undefined;
  let connection: NatsConnection | undefined;
  beforeAll(async () => {
    server = await privateNatsServer();
    await server.start();
    connection = await connect({ servers: server.url.replace('nats://', ''), maxReconnectAttempts: -1 });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.remove();
  });

  const undeliveredWarningMs = 4_000;
  /** A transport on its own stream whose clock runs at 5x real time, so each expired pull (1 s) finds a check due. */
  const open = (stream: string) => {
    const clock = manualClock(Date.now());
    const warnings: MessagingError[] = [];
    const transport = natsTransport(connection as NatsConnection, {
      stream,
      subjectPrefix: stream.toLowerCase(),
      clock,
      undeliveredWarningMs,
      pullExpiresMs: 1_000,
      // The clock runs ahead of real time: no server call or delivery may time out on it.
      operationTimeoutMs: 600_000,
      visibilityTimeoutMs: 600_000,
      onError: (warning) => warnings.push(warning),
    });
    const ticking = setInterval(() => clock.advance(500), 100);
    return {
      transport,
      clock,
      undelivered: () => warnings.filter((warning) => warning.code === 'UNDELIVERED_MESSAGES'),
      /** Lets the clock pass `ms` while the subscriptions' pulls come back empty. */
      letClockPass: async (ms: number) => {
        const until = clock.now() + ms;
        await eventually(() => clock.now() >= until, 60_000, `${ms} ms of the clock`);
      },
      close: async () => {
        clearInterval(ticking);
        await transport.close({ deadlineMs: 0 });
      },
    };
  };
  const orders = (count: number) =>
    Array.from({ length: count }, (_, index) => createEnvelope({ topic: 'orders', type: 'test', payload: { index } }));

  it('does not report a group that is idle, nor one whose subscriber is busy while messages wait', async () => {
    const { transport, undelivered, letClockPass, close } = open('BULWARK_HEALTHY');
    try {
      const received: string[] = [];
      let hold = Promise.resolve();
      await transport.subscribe(
        'orders',
        'billing',
        async ({ message }) => {
          received.push(message.id);
          await hold;
        },
        { prefetch: 1 },
      );
      const [first] = orders(1);
      await transport.publish('orders', [first as Envelope]);
      await eventually(() => received.includes(first?.id as string), 10_000, 'the first message');

      // Idle: nothing pending, the pulls come back empty for three thresholds.
      await letClockPass(3 * undeliveredWarningMs);
      expect(undelivered()).toHaveLength(0);

      // Busy: the handler holds the only slot while three messages wait (pending, no pull open).
      let release = () => {};
      hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      const busy = orders(4);
      await transport.publish('orders', busy);
      await eventually(() => received.includes(busy[0]?.id as string), 10_000, 'the first busy message');
      await letClockPass(3 * undeliveredWarningMs);
      expect(undelivered()).toHaveLength(0);
      release();
      await eventually(() => busy.every((message) => received.includes(message.id)), 10_000, 'the busy messages');
      expect((await transport.snapshot())[0]?.undeliveredSince).toBeUndefined();
    } finally {
      await close();
    }
  }, 120_000);

  it('reports a group whose consumer holds acknowledged messages it never delivers, once; deleting the stream recovers it', async () => {
    const stream = 'BULWARK_BROKEN';
    const { transport, clock, undelivered, letClockPass, close } = open(stream);
    const admin = await jetstreamManager(connection as NatsConnection);
    try {
      // The stream and the group's consumer exist and hold messages nobody read yet when the
      // stream's message files are removed under the running server.
      await transport.declareGroup('orders', 'billing');
      await transport.publish('orders', orders(3));
      const files = join((server as { store: string }).store, 'jetstream', '$G', 'streams', stream, 'msgs');
      for (const file of readdirSync(files)) rmSync(join(files, file));
      // Still acknowledged.
      const lost = orders(3);
      await transport.publish('orders', lost);

      const received: string[] = [];
      await transport.subscribe('orders', 'billing', async ({ message }) => {
        received.push(message.id);
      });
      await eventually(() => undelivered().length > 0, 30_000, 'the UNDELIVERED_MESSAGES warning');
      expect(received).toHaveLength(0);
      const [warning] = undelivered();
      expect(warning?.message).toContain('holds 6 message(s)');
      expect(warning?.message).toContain(`the stream ${stream} cannot read its messages`);
      const [billing] = await transport.snapshot();
      expect(billing).toMatchObject({ group: 'billing', pending: 6 });
      expect(billing?.undeliveredSince).toBeLessThanOrEqual(clock.now() - undeliveredWarningMs);
      // Once per stall, however long it lasts.
      await letClockPass(3 * undeliveredWarningMs);
      expect(undelivered()).toHaveLength(1);

      // What recovers it, as the warning says: deleting the stream. The transport makes it and
      // the group again and delivers what is published then; what the broken stream held is lost.
      await admin.streams.delete(stream);
      const [after] = orders(1) as [Envelope];
      await eventually(
        () =>
          transport.publish('orders', [after]).then(
            () => true,
            () => false,
          ),
        30_000,
        'a publish to the stream made again',
      );
      await eventually(() => received.includes(after.id), 30_000, 'a message of the stream made again');
      expect((await transport.snapshot())[0]?.undeliveredSince).toBeUndefined();
    } finally {
      await close();
      await admin.streams.delete(stream).catch(() => {});
    }
  }, 120_000);
});
