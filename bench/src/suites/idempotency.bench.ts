// The Redis idempotency store against the floor it cannot beat: a bare `SET NX`, at 64
// concurrent callers. One operation of each subject:
//   redis SET NX                 one `SET key 1 NX PX 60000` of a fresh key (1 round trip)
//   bulwark run() (begin+complete)  one full `idempotency().run()` of a fresh key whose work
//                                   returns at once: begin script + complete script (2 round trips
//                                   per caller; concurrent callers' scripts batched per tick, the default)
//   bulwark run(), batch: false     the same with one script call per begin and per complete
//   bulwark run() replay            one `run()` of a key already completed: begin script only,
//                                   which returns the stored outcome (1 round trip)
// The ratio column is each subject's ops/s over SET NX's. Both use one ioredis connection,
// with auto-pipelining as a busy service would configure it, on the same Redis.
import { randomUUID } from 'node:crypto';
import { idempotency } from '@bulwark/messaging';
import { redisIdempotencyStore } from '@bulwark/messaging/redis';
import { Redis } from 'ioredis';
import type { BenchmarkDefinition } from '../harness.js';

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = `bench:idempotency:${process.pid}:${randomUUID().slice(0, 8)}:`;
let redis: Redis | undefined;
const client = () => {
  redis ??= new Redis(url, { enableAutoPipelining: true });
  return redis;
};

async function deleteKeys(): Promise<void> {
  const connection = client();
  let cursor = '0';
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await connection.unlink(...keys);
  } while (cursor !== '0');
}

let counter = 0;
const outcome = { orderId: 'o-1', amount: 4200 };

const definitions: BenchmarkDefinition[] = [
  {
    name: 'idempotency.redis',
    description: 'Redis idempotency store vs bare SET NX, fresh keys (ops = full run() cycles vs SET NX commands)',
    mode: { kind: 'concurrent', concurrency: 64 },
    operations: 20_000,
    rounds: 5,
    baseline: 'redis SET NX',
    setup: async () => {
      await client().ping();
    },
    teardown: async () => {
      await deleteKeys();
      await redis?.quit();
      redis = undefined;
    },
    subjects: {
      'redis SET NX': () => {
        const connection = client();
        return { run: () => connection.set(`${prefix}nx:${counter++}`, '1', 'PX', 60_000, 'NX') };
      },
      'bulwark run() (begin+complete)': () => {
        const idem = idempotency({
          store: redisIdempotencyStore(client(), { keyPrefix: `${prefix}run:` }),
          ttlMs: 60_000,
          lockTtlMs: 10_000,
        });
        const work = async () => outcome;
        return { run: () => idem.run(`k${counter++}`, 'fp', work) };
      },
      'bulwark run(), batch: false': () => {
        const idem = idempotency({
          store: redisIdempotencyStore(client(), { keyPrefix: `${prefix}unbatched:`, batch: false }),
          ttlMs: 60_000,
          lockTtlMs: 10_000,
        });
        const work = async () => outcome;
        return { run: () => idem.run(`k${counter++}`, 'fp', work) };
      },
      'bulwark run() replay': async () => {
        const idem = idempotency({
          store: redisIdempotencyStore(client(), { keyPrefix: `${prefix}replay:` }),
          ttlMs: 600_000,
          lockTtlMs: 10_000,
        });
        await idem.run('done', 'fp', async () => outcome);
        return { run: () => idem.run('done', 'fp', async () => outcome) };
      },
    },
  },
];
export default definitions;
