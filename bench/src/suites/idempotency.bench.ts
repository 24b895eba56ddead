// The Redis idempotency store against the floor it cannot beat: a bare `SET NX`, at 64
// concurrent callers. One operation of each subject:
//   redis SET NX                     one `SET key 1 PX 60000 NX` of a fresh key (1 round trip)
//   bulwark run() (begin+complete)   one full `idempotency().run()` of a fresh key whose work
//                                    returns at once: the begin script, then the complete script
//                                    (2 round trips per caller; under load concurrent callers
//                                    share script calls, the store's default)
//   bulwark run(), batch: false      the same with one script call per begin and per complete
//   bulwark run() replay             one `run()` of a key already completed: the begin script only,
//                                    which returns the stored outcome (1 round trip)
// The ratio column is each subject's ops/s over SET NX's ops/s: full run() cycles against single
// SET NX commands. Every subject shares one ioredis connection to the same Redis; the suite runs
// twice, with ioredis' defaults and with auto-pipelining, as a busy service might configure it.
import { randomUUID } from 'node:crypto';
import { idempotency } from '@bulwark/messaging';
import { redisIdempotencyStore } from '@bulwark/messaging/redis';
import { Redis } from 'ioredis';
import type { BenchmarkDefinition } from '../harness.js';

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const outcome = { orderId: 'o-1', amount: 4200 };

function suite(
  name: string,
  description: string,
  enableAutoPipelining: boolean,
  concurrency = 64,
): BenchmarkDefinition {
  const prefix = `bench:idempotency:${process.pid}:${randomUUID().slice(0, 8)}:`;
  let redis: Redis | undefined;
  const client = () => {
    redis ??= new Redis(url, { enableAutoPipelining });
    return redis;
  };
  let counter = 0;
  const runner = (keyPrefix: string, batch: boolean) => {
    const idem = idempotency({
      store: redisIdempotencyStore(client(), { keyPrefix: `${prefix}${keyPrefix}`, batch }),
      ttlMs: 60_000,
      lockTtlMs: 10_000,
    });
    const work = async () => outcome;
    return { run: () => idem.run(`k${counter++}`, 'fp', work) };
  };
  return {
    name,
    description,
    mode: { kind: 'concurrent', concurrency },
    operations: 20_000,
    rounds: 7,
    baseline: 'redis SET NX',
    setup: async () => {
      await client().ping();
    },
    teardown: async () => {
      const connection = client();
      let cursor = '0';
      do {
        const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await connection.unlink(...keys);
      } while (cursor !== '0');
      await connection.quit();
      redis = undefined;
    },
    subjects: {
      'redis SET NX': () => {
        const connection = client();
        return { run: () => connection.set(`${prefix}nx:${counter++}`, '1', 'PX', 60_000, 'NX') };
      },
      'bulwark run() (begin+complete)': () => runner('run:', true),
      'bulwark run(), batch: false': () => runner('unbatched:', false),
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
  };
}

const definitions: BenchmarkDefinition[] = [
  suite(
    'idempotency.redis',
    'Redis idempotency store vs bare SET NX, fresh keys, default ioredis client (ops = full run() cycles vs SET NX commands)',
    false,
  ),
  suite('idempotency.redis-autopipelining', 'the same with enableAutoPipelining: true on the shared client', true),
  // Batching must not cost a handful of callers anything (one batch per tick halved this).
  suite('idempotency.redis-4-callers', 'the same as idempotency.redis at 4 concurrent callers', false, 4),
];
export default definitions;
