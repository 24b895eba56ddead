// One message's trace from `outbox.add` through the relay, a real transport and a consumer: the
// spans form one tree (place-order → create → send → process → the handler's own span).
import { claimCheck, consume, createEnvelope, memoryBlobStore, type Transport } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { postgresOutbox, postgresTransport } from '@bulwark/messaging/postgres';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import { withTransaction } from '@bulwark/resilience/postgres';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import { installTestTelemetry, parentSpanId } from '@bulwark/test-support/otel';
import { trace } from '@opentelemetry/api';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const telemetry = installTestTelemetry();
const tracer = trace.getTracer('test');

const until = async (check: () => boolean, what: string) => {
  for (let tries = 0; tries < 1_000 && !check(); tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};

await describeWithServers(
  'message trace through the outbox and every transport',
  ['postgres', 'redis', 'amqp'],
  (urls) => {
    let pool: pg.Pool;
    let redis: Redis;
    const exchange = uniqueName('bulwark-otel');
    beforeAll(async () => {
      pool = new pg.Pool({ connectionString: urls.postgres, max: 6 });
      redis = new Redis(urls.redis);
    });
    afterAll(async () => {
      await pool.end();
      redis.disconnect();
      const admin = await amqp.connect(urls.amqp);
      const channel = await admin.createChannel();
      await channel.deleteExchange(exchange).catch(() => {});
      await admin.close();
    });
    beforeEach(() => telemetry.reset());

    const transports: Record<string, { system: string; open: () => Promise<Transport> }> = {
      postgres: {
        system: 'postgres',
        open: async () => {
          const transport = postgresTransport(pool, { table: uniqueName('otel_transport'), pollIntervalMs: 100 });
          await transport.migrate();
          return transport;
        },
      },
      'redis-streams': {
        system: 'redis-streams',
        open: async () => redisStreamsTransport(redis, { keyPrefix: `${uniqueName('otel')}:` }),
      },
      rabbitmq: {
        system: 'rabbitmq',
        open: async () =>
          amqpTransport(() => amqp.connect(urls.amqp), {
            exchange,
            queuePrefix: `${uniqueName('otel')}:`,
            queueArguments: { 'x-expires': 120_000 },
          }),
      },
    };

    describe.each(Object.entries(transports))('%s', (_name, { system, open }) => {
      it('outbox.add → relay → transport → consumer is one span tree, the claim check inside it', async () => {
        const transport = await open();
        const outbox = postgresOutbox(pool, { table: uniqueName('otel_outbox') });
        await outbox.migrate();
        const topic = uniqueName('orders');
        const handlerSpans: string[] = [];
        const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 64 });
        const consumer = await consume(transport, {
          topic,
          group: 'billing',
          handler: async (message) => {
            await checks.checkOut(message);
            await tracer.startActiveSpan('bill', async (span) => {
              handlerSpans.push(span.spanContext().spanId);
              span.end();
            });
          },
        });
        const relay = outbox.relay({ transport, pollIntervalMs: 50, claimCheck: checks });
        try {
          const message = createEnvelope({ topic, type: 'order.placed', payload: { lines: 'x'.repeat(200) } });
          await tracer.startActiveSpan('place-order', async (span) => {
            await withTransaction(pool, (client) => outbox.add(client, message));
            span.end();
          });
          await until(() => handlerSpans.length === 1, 'the handler');
          await until(() => telemetry.spansNamed(`process ${topic}`).length === 1, 'the process span');

          const [placeOrder] = telemetry.spansNamed('place-order');
          const [create] = telemetry.spansNamed(`create ${topic}`);
          const [checkIn] = telemetry.spansNamed('claim-check check-in');
          const [send] = telemetry.spansNamed(`send ${topic}`);
          const [process] = telemetry.spansNamed(`process ${topic}`);
          const [checkOut] = telemetry.spansNamed('claim-check check-out');
          const [bill] = telemetry.spansNamed('bill');
          const traceId = placeOrder?.spanContext().traceId;
          for (const span of [create, checkIn, send, process, checkOut, bill])
            expect(span?.spanContext().traceId).toBe(traceId);
          expect(parentSpanId(create!)).toBe(placeOrder?.spanContext().spanId);
          expect(parentSpanId(checkIn!)).toBe(create?.spanContext().spanId);
          expect(parentSpanId(send!)).toBe(create?.spanContext().spanId);
          expect(parentSpanId(process!)).toBe(create?.spanContext().spanId);
          expect(parentSpanId(checkOut!)).toBe(process?.spanContext().spanId);
          expect(parentSpanId(bill!)).toBe(process?.spanContext().spanId);
          expect(checkIn?.attributes['bulwark.claim_check.claimed']).toBe(true);
          expect(send?.attributes).toMatchObject({ 'messaging.system': system, 'messaging.message.id': message.id });
          expect(process?.attributes).toMatchObject({
            'messaging.system': system,
            'messaging.consumer.group.name': 'billing',
            'bulwark.messaging.outcome': 'handled',
          });
          // The consumer may be done before the relay has removed the row it published.
          await until(() => relay.snapshot().dispatched === 1, 'the relay to remove the published row');
          const dispatched = await telemetry.points('bulwark.outbox.dispatched');
          expect(dispatched.some((point) => point.attributes['messaging.destination.name'] === topic)).toBe(true);
          // The relay is still leading, so its lag is observed, in seconds.
          const lag = await telemetry.points('bulwark.outbox.lag');
          const observed = lag.find((point) => point.attributes['bulwark.outbox.name'] === relay.snapshot().outbox);
          expect(observed?.value).toBeGreaterThanOrEqual(0);
          expect(observed?.value).toBeLessThan(60);
        } finally {
          await relay.close();
          await consumer.close();
          await transport.close();
          await outbox.close();
        }
      });

      it('without a claim check (the relay hands the stored JSON to publishJson where there is one) the trace is the same', async () => {
        const transport = await open();
        const outbox = postgresOutbox(pool, { table: uniqueName('otel_outbox') });
        await outbox.migrate();
        const topic = uniqueName('orders');
        const received: unknown[] = [];
        const consumer = await consume(transport, {
          topic,
          group: 'billing',
          handler: async (message) => {
            received.push(message);
          },
        });
        const relay = outbox.relay({ transport, pollIntervalMs: 50 });
        try {
          const message = createEnvelope({ topic, type: 'order.placed', key: 'order-1', payload: { total: 42 } });
          await tracer.startActiveSpan('place-order', async (span) => {
            await withTransaction(pool, (client) => outbox.add(client, message));
            span.end();
          });
          await until(() => telemetry.spansNamed(`process ${topic}`).length === 1, 'the process span');
          const [create] = telemetry.spansNamed(`create ${topic}`);
          const [send] = telemetry.spansNamed(`send ${topic}`);
          const [process] = telemetry.spansNamed(`process ${topic}`);
          expect(parentSpanId(send!)).toBe(create?.spanContext().spanId);
          expect(parentSpanId(process!)).toBe(create?.spanContext().spanId);
          expect(send?.attributes).toMatchObject({ 'messaging.system': system, 'messaging.message.id': message.id });
          expect(received).toEqual([{ ...message, headers: { ...message.headers, traceparent: expect.any(String) } }]);
        } finally {
          await relay.close();
          await consumer.close();
          await transport.close();
          await outbox.close();
        }
      });
    });
  },
);
