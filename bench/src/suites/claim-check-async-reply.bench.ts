// Claim check and async reply costs.
//
// messaging.claim-check — one 1 MiB JSON payload (an order document of 4,000 lines), sequential:
//   inline JSON round trip       JSON.stringify + JSON.parse of the payload: what a transport does
//                                anyway, the floor (baseline)
//   claim check, memory store    checkIn (serialize, SHA-256, put) + checkOut (get, verify, parse)
//   claim check, fs store        the same through fsBlobStore (temp file, fsync, rename; read back)
//
// messaging.async-reply-store — one operation's whole life in the store, 16 concurrent callers:
//   create + start + finish + get (4 round trips), per store: memory, Redis, PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AsyncReplyStore,
  claimCheck,
  createEnvelope,
  fsBlobStore,
  memoryAsyncReplyStore,
  memoryBlobStore,
} from '@bulwark/messaging';
import { postgresAsyncReplyStore } from '@bulwark/messaging/postgres';
import { redisAsyncReplyStore } from '@bulwark/messaging/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { BenchmarkDefinition } from '../harness.js';

const payload = {
  orderId: 'o-1',
  lines: Array.from({ length: 4_000 }, (_, index) => ({
    sku: `sku-${index.toString().padStart(6, '0')}`,
    name: `Product number ${index} with a fairly long descriptive name`,
    quantity: (index % 7) + 1,
    unitPriceCents: 1_000 + index,
    notes: 'gift wrap; deliver to the back door; call before arrival',
  })),
};
const message = createEnvelope({ topic: 'orders', type: 'order.document', payload });
const directory = mkdtempSync(join(tmpdir(), 'bulwark-bench-claims-'));

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const table = `bench_async_reply_${suffix}`;
let redis: Redis | undefined;
let pool: pg.Pool | undefined;

let sequence = 0;
const lifecycle = (store: AsyncReplyStore) => async () => {
  const id = `op-${sequence++}`;
  const now = Date.now();
  await store.create({ id, kind: 'report', createdAt: now, expiresAt: now + 60_000 });
  await store.start(id, { now, runId: id, leaseUntil: now + 30_000 });
  await store.finish(id, {
    now,
    runId: id,
    status: 'succeeded',
    result: '{"total":42}',
    resultClaimed: false,
    expiresAt: now + 60_000,
  });
  await store.get(id, now);
};

const definitions: BenchmarkDefinition[] = [
  {
    name: 'messaging.claim-check',
    description: `check in + check out of a ${Math.round(JSON.stringify(payload).length / 1024)} KiB JSON payload`,
    mode: { kind: 'op' },
    operations: 100,
    baseline: 'inline JSON round trip',
    teardown: async () => rmSync(directory, { recursive: true, force: true }),
    subjects: {
      'inline JSON round trip': () => ({ run: () => JSON.parse(JSON.stringify(message)) }),
      'claim check, memory store': () => {
        const checks = claimCheck({ store: memoryBlobStore(), thresholdBytes: 1024, deleteAfterCheckOut: true });
        return { run: async () => checks.checkOut(await checks.checkIn(message)) };
      },
      'claim check, fs store': () => {
        const checks = claimCheck({
          store: fsBlobStore({ dir: directory }),
          thresholdBytes: 1024,
          deleteAfterCheckOut: true,
        });
        return { run: async () => checks.checkOut(await checks.checkIn(message)) };
      },
    },
  },
  {
    name: 'messaging.async-reply-store',
    description: 'one operation lifecycle in the store: create + start + finish + get',
    mode: { kind: 'concurrent', concurrency: 16 },
    operations: 2_000,
    baseline: 'memory',
    setup: async () => {
      redis = new Redis(redisUrl, { enableAutoPipelining: true });
      pool = new pg.Pool({ connectionString: databaseUrl, max: 16 });
      await postgresAsyncReplyStore(pool, { table }).migrate();
    },
    teardown: async () => {
      let cursor = '0';
      do {
        const [next, keys] = (await redis?.scan(cursor, 'MATCH', `bench:async-reply:${suffix}:*`, 'COUNT', 1000)) ?? [
          '0',
          [],
        ];
        cursor = next;
        if (keys.length > 0) await redis?.unlink(...keys);
      } while (cursor !== '0');
      await redis?.quit();
      await pool?.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool?.end();
    },
    subjects: {
      memory: () => ({ run: lifecycle(memoryAsyncReplyStore()) }),
      redis: () => ({
        run: lifecycle(redisAsyncReplyStore(redis as Redis, { keyPrefix: `bench:async-reply:${suffix}:` })),
      }),
      postgres: () => ({ run: lifecycle(postgresAsyncReplyStore(pool as pg.Pool, { table })) }),
    },
  },
];
export default definitions;
