import type { IdempotencyStore } from '@bulwark/messaging';
import { memoryIdempotencyStore } from '@bulwark/messaging';
import { postgresIdempotencyStore } from '@bulwark/messaging/postgres';
import { redisIdempotencyStore } from '@bulwark/messaging/redis';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

// Differential test: random sequences of operations, applied to the memory store (the reference)
// and to the Redis and PostgreSQL stores, must give the same answers. Leases and ttls are long,
// so time plays no part here (expiry is covered by the conformance suite).

type Operation =
  | { kind: 'begin'; key: number; fingerprint: number }
  | { kind: 'burst'; key: number; callers: number }
  | { kind: 'complete'; key: number; token: number; outcome: string }
  | { kind: 'release'; key: number; token: number }
  | { kind: 'get'; key: number }
  | { kind: 'delete'; key: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('begin' as const), key: fc.nat(2), fingerprint: fc.nat(1) }),
  fc.record({ kind: fc.constant('burst' as const), key: fc.nat(2), callers: fc.integer({ min: 2, max: 8 }) }),
  fc.record({ kind: fc.constant('complete' as const), key: fc.nat(2), token: fc.nat(5), outcome: fc.string() }),
  fc.record({ kind: fc.constant('release' as const), key: fc.nat(2), token: fc.nat(5) }),
  fc.record({ kind: fc.constant('get' as const), key: fc.nat(2) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.nat(2) }),
);

const long = 600_000;

/** Runs the operations on one store; tokens are named by the order in which they were won. */
async function play(store: IdempotencyStore, prefix: string, operations: readonly Operation[]): Promise<unknown[]> {
  const tokens: string[] = [];
  const tokenIndex = (token: string) => tokens.indexOf(token);
  const answers: unknown[] = [];
  const describe = (result: Awaited<ReturnType<IdempotencyStore['begin']>>) => {
    if (result.kind === 'acquired') {
      tokens.push(result.leaseToken);
      return { acquired: tokens.length - 1 };
    }
    const { record } = result;
    return record.status === 'completed'
      ? { existing: 'completed', fingerprint: record.fingerprint, outcome: record.outcome }
      : { existing: 'in-progress', fingerprint: record.fingerprint, holder: tokenIndex(record.leaseToken) };
  };
  for (const step of operations) {
    const key = `${prefix}-${step.key}`;
    switch (step.kind) {
      case 'begin':
        answers.push(describe(await store.begin(key, `fp-${step.fingerprint}`, long)));
        break;
      case 'burst': {
        // Concurrent begins: which caller wins may differ between stores; how many may not.
        const results = await Promise.all(Array.from({ length: step.callers }, () => store.begin(key, 'fp-0', long)));
        const described = results.map(describe);
        answers.push({ burstAcquired: described.filter((entry) => 'acquired' in entry).length });
        break;
      }
      case 'complete':
        answers.push(await store.complete(key, tokens[step.token] ?? 'never-issued', step.outcome, long));
        break;
      case 'release':
        answers.push(await store.release(key, tokens[step.token] ?? 'never-issued'));
        break;
      case 'get': {
        const record = await store.get(key);
        answers.push(
          record === undefined
            ? 'none'
            : record.status === 'completed'
              ? { status: 'completed', fingerprint: record.fingerprint, outcome: record.outcome }
              : { status: 'in-progress', fingerprint: record.fingerprint, holder: tokenIndex(record.leaseToken) },
        );
        break;
      }
      case 'delete':
        await store.delete(key);
        answers.push('deleted');
        break;
    }
  }
  return answers;
}

await describeWithServers(
  'IdempotencyStore differential (memory vs Redis vs PostgreSQL)',
  ['redis', 'postgres'],
  (urls) => {
    let redis: Redis;
    let pool: pg.Pool;
    const keyPrefix = `${uniqueName('idem_diff')}:`;
    const table = uniqueName('idem_diff');
    let stores: Record<string, IdempotencyStore>;

    beforeAll(async () => {
      redis = new Redis(urls.redis);
      pool = new pg.Pool({ connectionString: urls.postgres, max: 4 });
      const postgres = postgresIdempotencyStore(pool, { table });
      await postgres.migrate();
      stores = {
        'redis (batched)': redisIdempotencyStore(redis, { keyPrefix: `${keyPrefix}b:` }),
        'redis (unbatched)': redisIdempotencyStore(redis, { keyPrefix: `${keyPrefix}u:`, batch: false }),
        postgres,
      };
    });
    afterAll(async () => {
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool.end();
    });

    it('answers every sequence of operations as the memory store does', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (operations) => {
          run += 1;
          const prefix = `run${run}`;
          const expected = await play(memoryIdempotencyStore(), prefix, operations);
          for (const [name, store] of Object.entries(stores)) {
            expect({ store: name, answers: await play(store, prefix, operations) }).toEqual({
              store: name,
              answers: expected,
            });
          }
        }),
        { numRuns: 40 },
      );
    });
  },
);
