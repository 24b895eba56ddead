import {
  fixedWindow,
  gcra,
  memoryRateLimitStore,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  RateLimitStoreError,
  rateLimiter,
  slidingWindow,
} from '@bulwark/resilience';
import {
  type PostgresRateLimitStoreOptions,
  postgresRateLimitSql,
  postgresRateLimitStore,
} from '@bulwark/resilience/postgres';
import { manualClock } from '@bulwark/resilience/testing';
import { describeWithServers, uniqueName } from '@bulwark/test-support';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

// Issue #21: the decisions of one tick go to PostgreSQL as one statement. These tests count the
// statements a real pool sends, and check each caller gets the answer a sequential run gives.

/** Long periods: the server's clock moves, but never far enough to change a decision here. */
const algorithms = {
  gcra: (limit: number) => gcra({ rate: limit, periodMs: 300 * 86_400_000, burst: limit }),
  fixedWindow: (limit: number) => fixedWindow({ limit, windowMs: 300 * 86_400_000 }),
  slidingWindow: (limit: number) => slidingWindow({ limit, windowMs: 300 * 86_400_000 }),
};

interface Request {
  readonly key: string;
  readonly algorithm: RateLimitAlgorithm;
  readonly cost: number;
  readonly peek?: boolean;
}

await describeWithServers('postgresRateLimitStore batching', ['postgres'], ({ postgres: url }) => {
  const applicationName = uniqueName('bulwark_rl_batching');
  const table = uniqueName('rate_limits_batching');
  const pool = new pg.Pool({ connectionString: url, max: 8, application_name: applicationName });
  pool.on('error', () => {}); // idle clients whose backend a test terminates
  const admin = new pg.Pool({ connectionString: url, max: 3 });
  /** The statements the stores sent, by prepared-statement name (every decision statement has one). */
  const sent: string[] = [];
  // The real pool, with its `query` calls recorded (no behaviour changed).
  const recordingPool = new Proxy(pool, {
    get(target, property) {
      if (property === 'query')
        return (config: pg.QueryConfig) => {
          if (config.name) sent.push(config.name);
          return target.query(config);
        };
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const clock = manualClock(0);
  const stores: { close(): Promise<void> }[] = [];
  const storeOf = (options: PostgresRateLimitStoreOptions = {}) => {
    const store = postgresRateLimitStore(recordingPool, { table, sweepIntervalMs: 0, clock, ...options });
    stores.push(store);
    return store;
  };
  const store = storeOf();
  let counter = 0;
  const key = (label: string) => `${label}:${++counter}`;

  beforeAll(async () => {
    await store.migrate();
  });
  afterAll(async () => {
    for (const each of stores) await each.close();
    await admin.query(`DROP TABLE IF EXISTS ${store.table}`);
    const decideFunction = /FROM ([^(]+)\(/.exec(postgresRateLimitSql({ table }).decide)?.[1];
    await admin.query(`DROP FUNCTION IF EXISTS ${decideFunction}`);
    await pool.end();
    await admin.end();
  });

  /** The decisions a sequential run of `requests` gets, on the memory store (the reference). */
  const sequentially = async (requests: readonly Request[]): Promise<RateLimitDecision[]> => {
    const reference = memoryRateLimitStore({ clock: manualClock(0) });
    const decisions: RateLimitDecision[] = [];
    for (const request of requests)
      decisions.push(
        request.peek
          ? await reference.peek(request.key, request.algorithm)
          : await reference.consume(request.key, request.algorithm, request.cost),
      );
    await reference.close();
    return decisions;
  };
  /** All of `requests` in one tick: they leave as one statement (at most maxBatchSize of them). */
  const together = (requests: readonly Request[]) =>
    Promise.all(
      requests.map((request) =>
        request.peek
          ? store.peek(request.key, request.algorithm)
          : store.consume(request.key, request.algorithm, request.cost),
      ),
    );
  /** Runs `work` while another transaction holds `rowKey`'s row lock. */
  const whileRowHeld = async (rowKey: string, work: () => Promise<void>) => {
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT * FROM ${store.table} WHERE key = $1 FOR UPDATE`, [rowKey]);
      await work();
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  };
  const decideStatements = () => sent.filter((name) => name.startsWith('bulwark_rl_decide_')).length;
  const outcome = ({ allowed, remaining }: RateLimitDecision) => ({ allowed, remaining });

  it('decides one tick of calls in one statement, the same key several times in request order', async () => {
    const a = key('repeated-a');
    const b = key('repeated-b');
    const limit3 = algorithms.fixedWindow(3);
    const requests: Request[] = [
      { key: a, algorithm: limit3, cost: 1 },
      { key: b, algorithm: limit3, cost: 3 },
      { key: a, algorithm: limit3, cost: 2 },
      { key: a, algorithm: limit3, cost: 1 }, // refused: 3 of 3 taken
      { key: b, algorithm: limit3, cost: 1 }, // refused
      { key: a, algorithm: limit3, cost: 1, peek: true },
    ];
    const before = decideStatements();
    const decisions = await together(requests);
    expect(decideStatements() - before).toBe(1);
    expect(decisions.map(outcome)).toEqual((await sequentially(requests)).map(outcome));
    expect(decisions.map(outcome)).toEqual([
      { allowed: true, remaining: 2 },
      { allowed: true, remaining: 0 },
      { allowed: true, remaining: 0 },
      { allowed: false, remaining: 0 },
      { allowed: false, remaining: 0 },
      { allowed: false, remaining: 0 },
    ]);
    for (const refused of decisions.filter((decision) => !decision.allowed))
      expect(refused.retryAfterMs).toBeGreaterThan(0);
  });

  it('decides mixed algorithms, limits and costs in one statement, each as if alone', async () => {
    const perKey: Request[][] = [];
    for (const [label, make] of Object.entries(algorithms))
      for (const limit of [2, 5]) {
        const shared = key(`mixed-${label}-${limit}`);
        const costs = [1, limit, 1, 2].filter((value) => value <= limit);
        perKey.push(costs.map((cost) => ({ key: shared, algorithm: make(limit), cost })));
      }
    // Interleaved, as concurrent callers would send them; 24 calls, within one batch.
    const requests = Array.from({ length: 4 }, (_, turn) =>
      perKey.flatMap((each) => each.slice(turn, turn + 1)),
    ).flat();
    const before = sent.length;
    const decisions = await together(requests);
    expect(sent.slice(before)).toEqual([expect.stringMatching(/^bulwark_rl_decide_/)]);
    expect(decisions.map(outcome)).toEqual((await sequentially(requests)).map(outcome));
    // The same work one statement per call (batch: false) answers the same, to the millisecond
    // apart from the time that passed between the two runs.
    const unbatched = storeOf({ batch: false });
    const alone: RateLimitDecision[] = [];
    const renamed = requests.map((request) => ({ ...request, key: `${request.key}:alone` }));
    for (const request of renamed) alone.push(await unbatched.consume(request.key, request.algorithm, request.cost));
    expect(decisions.map(outcome)).toEqual(alone.map(outcome));
    for (const [index, decision] of decisions.entries()) {
      const other = alone[index] as RateLimitDecision;
      expect(Math.abs(decision.resetMs - other.resetMs)).toBeLessThan(5_000);
      expect(Math.abs(decision.retryAfterMs - other.retryAfterMs)).toBeLessThan(5_000);
    }
  });

  it('splits a tick of more than maxBatchSize calls, and a lone call goes alone', async () => {
    const small = storeOf({ maxBatchSize: 4 });
    const limit = algorithms.gcra(100);
    const shared = key('split');
    const before = sent.length;
    const decisions = await Promise.all(Array.from({ length: 10 }, () => small.consume(shared, limit, 1)));
    expect(sent.slice(before).filter((name) => name.startsWith('bulwark_rl_decide_'))).toHaveLength(3);
    expect(decisions.map((decision) => decision.remaining).sort((x, y) => y - x)).toEqual([
      99, 98, 97, 96, 95, 94, 93, 92, 91, 90,
    ]);
    const lone = sent.length;
    await small.consume(shared, limit, 1);
    expect(sent.slice(lone)).toEqual([expect.stringMatching(/^bulwark_rl_gcra_/)]);
  });

  it('batches sharing keys in opposite orders never deadlock', async () => {
    const keys = Array.from({ length: 12 }, (_, index) => key(`order-${index}`));
    const limit = algorithms.fixedWindow(1_000);
    // Another store on its own pool: its batches run beside this store's, on other connections.
    const otherPool = new pg.Pool({ connectionString: url, max: 4 });
    const other = postgresRateLimitStore(otherPool, { table, sweepIntervalMs: 0 });
    try {
      for (let round = 0; round < 20; round++) {
        const forward = keys.map((each) => store.consume(each, limit, 1));
        const backward = [...keys].reverse().map((each) => other.consume(each, limit, 1));
        const outcomes = await Promise.allSettled([...forward, ...backward]);
        expect(outcomes.filter((settled) => settled.status === 'rejected')).toEqual([]);
      }
      for (const each of keys) expect((await store.peek(each, limit)).remaining).toBe(1_000 - 40);
    } finally {
      await other.close();
      await otherPool.end();
    }
  });

  it('a failed statement fails every caller of its batch with RateLimitStoreError, and takes nothing', async () => {
    const limit = algorithms.fixedWindow(50);
    const held = key('held');
    const free = key('free');
    await store.consume(held, limit, 1);
    // Hold one row, so the next batch is in flight on the server when its backend dies.
    await whileRowHeld(held, async () => {
      const batch = [store.consume(free, limit, 5), store.consume(held, limit, 1), store.consume(free, limit, 5)].map(
        (call) => call.catch((error: unknown) => error),
      );
      await waitFor(async () => {
        const { rows } = await admin.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [applicationName],
        );
        return rows[0].n === 1;
      });
      // Only the batch's backend: idle pooled ones killed too could be handed to the next call
      // before the pool sees them die.
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [applicationName],
      );
      for (const failure of await Promise.all(batch)) {
        expect(failure).toBeInstanceOf(RateLimitStoreError);
        expect((failure as RateLimitStoreError).code).toBe('RATE_LIMIT_STORE_FAILED');
      }
    });
    // The batch rolled back as a whole: `free` took nothing, though its decisions ran first.
    expect(outcome(await store.peek(free, limit))).toEqual({ allowed: true, remaining: 50 });
    expect(outcome(await store.consume(held, limit, 1))).toEqual({ allowed: true, remaining: 48 });
  });

  it('a batch stuck past queryTimeoutMs fails every caller with RATE_LIMIT_STORE_TIMEOUT; none hangs', async () => {
    const impatient = storeOf({ queryTimeoutMs: 300 });
    const limit = algorithms.fixedWindow(50);
    const held = key('stuck');
    await impatient.consume(held, limit, 1);
    await whileRowHeld(held, async () => {
      const outcomes = await Promise.allSettled([
        impatient.consume(key('stuck-other'), limit, 1),
        impatient.consume(held, limit, 1),
        impatient.peek(held, limit),
      ]);
      for (const settled of outcomes) {
        expect(settled.status).toBe('rejected');
        const reason = (settled as PromiseRejectedResult).reason as RateLimitStoreError;
        expect(reason).toBeInstanceOf(RateLimitStoreError);
        expect(reason.code).toBe('RATE_LIMIT_STORE_TIMEOUT');
      }
    });
    // The timed-out batch may still run once the lock is gone (pg's query_timeout does not cancel
    // it on the server): `held` then took one more unit, as documented for timeouts.
    expect([47, 48]).toContain((await impatient.consume(held, limit, 1)).remaining);
  });

  it('property: concurrent callers through batches are never admitted past the limit, and decide as in some order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(Object.keys(algorithms) as (keyof typeof algorithms)[])),
        fc.integer({ min: 1, max: 8 }),
        fc.record({ maxBatchSize: fc.integer({ min: 1, max: 12 }), maxInFlight: fc.integer({ min: 1, max: 4 }) }),
        fc.array(fc.record({ key: fc.nat({ max: 2 }), cost: fc.integer({ min: 1, max: 3 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (kind, limit, batching, calls) => {
          const algorithm = algorithms[kind](limit);
          const subject = storeOf(batching);
          const limiter = rateLimiter({ name: key('property'), algorithm, store: subject, clock, timeoutMs: 30_000 });
          const costs = calls.map((call) => Math.min(call.cost, limit));
          const decisions = await Promise.all(
            calls.map((call, index) => limiter.consume(`k${call.key}`, { cost: costs[index] as number })),
          );
          for (const keyIndex of [0, 1, 2]) {
            const mine = decisions
              .map((decision, index) => ({ decision, cost: costs[index] as number }))
              .filter((_, index) => calls[index]?.key === keyIndex);
            const admitted = mine.filter(({ decision }) => decision.allowed);
            expect(admitted.reduce((sum, { cost }) => sum + cost, 0)).toBeLessThanOrEqual(limit);
            // The admitted ones form one sequence: each took its cost from what the previous left.
            admitted.sort((x, y) => y.decision.remaining - x.decision.remaining);
            let left = limit;
            for (const { decision, cost } of admitted) {
              expect(decision.remaining).toBe(left - cost);
              left = decision.remaining;
            }
            // A refusal was right when it was made, and stayed right: less than its cost is left.
            for (const { decision, cost } of mine.filter((each) => !each.decision.allowed)) {
              expect(decision.remaining).toBeLessThan(cost);
              expect(left).toBeLessThan(cost);
            }
          }
          await limiter.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not met within 10 s');
}
