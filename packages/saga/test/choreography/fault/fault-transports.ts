// Opens the transport under test the same way in the test and in its child processes.
import type { Transport } from '@bulwark/messaging';
import { amqpTransport } from '@bulwark/messaging/amqp';
import { postgresTransport } from '@bulwark/messaging/postgres';
import { redisStreamsTransport } from '@bulwark/messaging/redis';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import type pg from 'pg';

export type FaultTransportKind = 'postgres' | 'redis-streams' | 'rabbitmq';

/** Everything a process needs to open the shared transport: kind, server URL and unique names. */
export interface FaultTransportConfig {
  readonly kind: FaultTransportKind;
  readonly url: string;
  /** Table, key prefix or exchange/queue prefix, unique per test run. */
  readonly name: string;
}

export async function openFaultTransport(
  config: FaultTransportConfig,
  pool: pg.Pool,
): Promise<{ transport: Transport; close(): Promise<void> }> {
  if (config.kind === 'postgres') {
    const transport = postgresTransport(pool, { table: config.name, pollIntervalMs: 50, visibilityTimeoutMs: 2_000 });
    await transport.migrate();
    return { transport, close: () => transport.close() };
  }
  if (config.kind === 'redis-streams') {
    const redis = new Redis(config.url);
    const transport = redisStreamsTransport(redis, {
      keyPrefix: `${config.name}:`,
      visibilityTimeoutMs: 2_000,
      claimIntervalMs: 200,
      blockMs: 100,
    });
    return {
      transport,
      async close() {
        await transport.close();
        redis.disconnect();
      },
    };
  }
  const transport = amqpTransport(() => amqp.connect(config.url), {
    exchange: config.name,
    queuePrefix: `${config.name}:`,
    queueArguments: { 'x-expires': 300_000 },
  });
  return { transport, close: () => transport.close() };
}
