// The Redis idempotency and async-reply stores across real Redis restarts: a private
// redis-server with an fsync'ed append-only file (never the shared one) is SIGKILLed, then shut
// down cleanly, and started again each time on the same port and directory, while one client
// made before keeps working. Every outcome a caller was told is stored must survive.
import { idempotency, MessagingError } from '@bulwark/messaging';
import { redisAsyncReplyStore, redisIdempotencyStore } from '@bulwark/messaging/redis';
import { describeWithRedisServer, runFaultScenarios, useRestartedRedis } from '@bulwark/test-support';
import { expect, it } from 'vitest';

const timeoutMs = 1_000;

describeWithRedisServer('Redis messaging stores across Redis restarts (private redis-server, AOF)', () => {
  const harness = useRestartedRedis();

  it('redisIdempotencyStore: no completed outcome lost or run again across restarts', async () => {
    const keyPrefix = 'restart-idem:';
    const idempotent = idempotency({ store: redisIdempotencyStore(harness.redis, { keyPrefix, timeoutMs }) });
    const runs = new Map<string, number>();
    const completed: string[] = [];
    // idempotency() resolves a run whose work succeeded even when the store then failed to keep
    // the outcome, and says so with this event: such keys are reported, not silently lost.
    const reported = new Set<string>();
    idempotent.on('idempotency-outcome-lost', ({ key }) => reported.add(key));
    let next = 0;
    const work = (key: string) => async () => {
      runs.set(key, (runs.get(key) ?? 0) + 1);
      return key;
    };
    const report = await runFaultScenarios({
      name: 'redisIdempotencyStore (restart)',
      load: async () => {
        const key = `k${next++}`;
        if ((await idempotent.run(key, 'fingerprint', work(key))) === key) completed.push(key);
      },
      callTimeoutMs: timeoutMs * 2,
      recoverWithinMs: 5_000,
      isTypedError: (error) => error instanceof MessagingError,
      faults: harness.restarts(),
    });
    let lost = 0;
    const stored = completed.filter((key) => !reported.has(key));
    for (const key of stored)
      if ((await idempotent.run(key, 'fingerprint', work(`again:${key}`)).catch(() => undefined)) !== key) lost += 1;
    const ranAgain = [...runs.keys()].filter((key) => key.startsWith('again:')).length;
    console.log(
      report.summary({
        completed: completed.length,
        'outcome not stored (reported by idempotency-outcome-lost)': reported.size,
        'stored but lost': lost,
        'run again': ranAgain,
      }),
    );
    expect(report.problems).toEqual([]);
    expect(stored.length).toBeGreaterThan(0);
    expect({ lost, ranAgain }).toEqual({ lost: 0, ranAgain: 0 });
  }, 60_000);

  it('redisAsyncReplyStore: no finished operation lost across restarts', async () => {
    const store = redisAsyncReplyStore(harness.redis, { keyPrefix: 'restart-reply:', timeoutMs });
    const finished: string[] = [];
    let next = 0;
    const report = await runFaultScenarios({
      name: 'redisAsyncReplyStore (restart)',
      load: async () => {
        const id = `op${next++}`;
        const now = Date.now();
        if (!(await store.create({ id, kind: 'report', createdAt: now, expiresAt: now + 600_000 }))) return;
        if (!(await store.start(id, { now, runId: id, leaseUntil: now + 60_000 }))) return;
        const outcome = { now, runId: id, status: 'succeeded', result: id, resultClaimed: false } as const;
        if (await store.finish(id, { ...outcome, expiresAt: now + 600_000 })) finished.push(id);
      },
      callTimeoutMs: timeoutMs * 3,
      recoverWithinMs: 5_000,
      isTypedError: (error) => error instanceof MessagingError,
      faults: harness.restarts(),
    });
    let lost = 0;
    for (const id of finished) {
      const record = await store.get(id, Date.now());
      if (record?.status !== 'succeeded' || record.result !== id) lost += 1;
    }
    console.log(report.summary({ finished: finished.length, 'finished but lost': lost }));
    expect(report.problems).toEqual([]);
    expect(finished.length).toBeGreaterThan(0);
    expect(lost).toBe(0);
  }, 60_000);
});
